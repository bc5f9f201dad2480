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


def test_instructor_page_links_every_committed_student_version(script):
    assignments = script("assignments")
    page = (SOURCE.parent / "book" / "for_instructors.md").read_text()
    for name in NAMES:
        assert assignments.colab_url(name) in page, f"book/for_instructors.md has no Colab link for {name}"
        assert (assignments.published(name) / f"{name}.ipynb").is_file(), f"{name}: student version not committed"


def test_a_stale_student_version_is_reported(script, tmp_path, monkeypatch):
    import shutil

    assignments = script("assignments")
    shutil.copytree(SOURCE / NAMES[0], tmp_path / "src" / NAMES[0])
    monkeypatch.setattr(assignments, "SOURCE", tmp_path / "src")
    built = assignments.build(NAMES[0], tmp_path / "out")
    assert assignments.stale(NAMES[0], built) == []
    first_test = sorted((assignments.published(NAMES[0]) / "tests").glob("*.py"))[0]
    first_test.write_text(first_test.read_text() + "\n# edited by hand\n")
    (assignments.published(NAMES[0]) / "extra.txt").write_text("x")
    assert assignments.stale(NAMES[0], built) == sorted(["extra.txt", f"tests/{first_test.name}"])
    nb = built.student.read_text()
    assert nb.count("google.colab") >= 1 and "recrl-book/recrl-book" in nb      # the Colab cell comes first
