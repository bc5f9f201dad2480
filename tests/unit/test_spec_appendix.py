"""The specification appendix is the authority: its defaults equal the code's, and every citation resolves.

* every row ``| `Class.field` | `literal` | provenance |`` of a defaults table in
  ``book/appendix/*.md`` names a real config field whose class default equals the literal;
* every ``spec-…`` label cited in the library, the tests, the benchmarks or the book exists
  in the appendix, exactly once;
* nothing cites a specification outside the repository.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import recrl_core

ROOT = Path(__file__).resolve().parents[2]
APPENDIX = ROOT / "book" / "appendix"
HEADER = re.compile(r"^\|\s*Field\s*\|\s*Default\s*\|\s*Provenance\s*\|\s*$")
ROW = re.compile(r"^\|\s*`(\w+)\.(\w+)`\s*\|\s*`(.+?)`\s*\|")
LABEL = re.compile(r"^\((spec[\w-]*)\)=\s*$", re.M)


def _config_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(recrl_core.__path__, "recrl_core."):
        for obj in vars(importlib.import_module(info.name)).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == info.name:
                assert found.setdefault(obj.__name__, obj) is obj, f"two dataclasses named {obj.__name__}"
    return found


def _rows() -> list[tuple[str, int, str, str, str]]:
    rows = []
    for page in sorted(APPENDIX.glob("*.md")):
        in_table = False
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if HEADER.match(line):
                in_table = True
            elif in_table and not line.startswith("|"):
                in_table = False
            elif in_table and (match := ROW.match(line)):
                rows.append((page.name, number, *match.groups()))
    return rows


ROWS = _rows()
CLASSES = _config_classes()


def test_the_appendix_has_defaults_tables():
    assert len(ROWS) > 100 and {r[2] for r in ROWS} >= {"SQNConfig", "PPOConfig", "LEAConfig", "RewardConfig"}


@pytest.mark.parametrize("page, line, cls, field, literal", ROWS, ids=lambda v: str(v))
def test_defaults_table_row_matches_the_code(page, line, cls, field, literal):
    assert cls in CLASSES, f"{page}:{line}: no config class {cls}"
    default = {f.name: f for f in dataclasses.fields(CLASSES[cls])}.get(field)
    assert default is not None, f"{page}:{line}: {cls} has no field {field}"
    value = getattr(CLASSES[cls](), field)
    assert ast.literal_eval(literal) == value, f"{page}:{line}: {cls}.{field} is {value!r} in the code, not {literal}"


def _labels() -> list[str]:
    return [label for page in APPENDIX.glob("*.md") for label in LABEL.findall(page.read_text())]


def test_every_label_is_defined_once():
    labels = _labels()
    assert sorted({x for x in labels if labels.count(x) > 1}) == []


def _cited() -> dict[str, set[str]]:
    """spec labels cited in code and book files -> the files that cite them."""
    cited: dict[str, set[str]] = {}
    files = [*ROOT.joinpath("recrl_core").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py"),
             *ROOT.joinpath("bench").glob("*.py"), *ROOT.joinpath("scripts").glob("*.py"),
             *ROOT.joinpath("book").rglob("*.ipynb"), *ROOT.joinpath("book").rglob("*.md")]
    for path in files:
        if "_build" in path.parts or path.name == Path(__file__).name:
            continue
        for label in re.findall(r"\b(spec(?:-[a-z0-9]+)+)\b", path.read_text()):
            cited.setdefault(label, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_every_cited_spec_label_exists():
    missing = {label: sorted(where) for label, where in _cited().items() if label not in set(_labels())}
    assert missing == {}


def test_nothing_cites_a_specification_outside_the_repository():
    pattern = re.compile(r"methods\.md|house-style|stack\.md")
    offenders = [str(p.relative_to(ROOT)) for p in [*ROOT.joinpath("recrl_core").rglob("*.py"),
                                                     *ROOT.joinpath("book").rglob("*.ipynb"),
                                                     *ROOT.joinpath("book").rglob("*.md"),
                                                     ROOT / "README.md"]
                 if "_build" not in p.parts and pattern.search(p.read_text())]
    assert offenders == []


def test_every_taught_in_label_exists_in_the_book():
    """``Taught in: sec-…`` lines of the library point at sections that exist."""
    labels = {m for p in ROOT.joinpath("book").rglob("*") if p.suffix in (".md", ".ipynb") and "_build" not in p.parts
              for m in re.findall(r"\((sec-[\w-]+)\)=", p.read_text())}
    taught = {label for p in ROOT.joinpath("recrl_core").rglob("*.py")          # a line may continue after a comma
              for block in re.findall(r"Taught in: ((?:[^\n]*,\n)*[^\n]*)", p.read_text())
              for label in re.findall(r"[\w-]+", block)}
    assert sorted(taught - labels) == []
