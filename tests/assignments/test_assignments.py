"""Course assignments are sound: solutions pass every public and hidden test, a blank answer
scores 0 on every question, and each deliberately wrong answer loses marks (scripts/assignments.py)."""

from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "assignments"
NAMES = sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb") if p.stem == p.parent.name)


def test_assignments_are_found(script):
    assert script("assignments").names() == NAMES and len(NAMES) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_assignment_is_sound(name, script, tmp_path):
    report = script("assignments").verify(name, tmp_path)
    assert not report["problems"], "\n".join(report["problems"])
    assert all(t["public"] >= 1 and t["hidden"] >= 1 for t in report["tests"].values()), report["tests"]
