#!/usr/bin/env python
"""Compare two sets of executed notebooks: every glued value and every printed output.

For a refactor that must not change behaviour: execute the notebooks before and
after it (``scripts/run_notebooks.py --save-executed DIR``, same mode, each with a
fresh ``RECRL_CACHE_DIR``), then::

    python scripts/compare_executed.py BEFORE_DIR AFTER_DIR

It reports, per notebook, the glued values that differ (``myst_nb.glue``: the numbers
the prose quotes) and the code cells whose outputs differ (text, tables, figure
count), after removing what changes on every run: pandas Styler table ids, the
provenance cell's date and wall time, and temporary kernel file names. Timings
still differ between runs and are shown; everything else should be identical.
Cells are compared by position, so a notebook that gained or lost code cells is
reported as such. Exit code 1 if a notebook is missing or a glued value differs
whose name does not look like a timing (``second``, ``_s_``, ``minutes``,
``speedup``, ``tok_s``, ``ms_``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

VOLATILE = [(re.compile(r"T_[0-9a-f]{5}"), "T_*"), (re.compile(r"'date_utc': '[^']*'"), "'date_utc': *"),
            (re.compile(r"'wall_seconds': [0-9.]+"), "'wall_seconds': *"),
            (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "<cell>")]
TIMING = re.compile(r"second|_s_|_s$|minutes|speedup|tok_s|ms_")


def _clean(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def read(path: Path) -> tuple[list[list[str]], dict[str, str]]:
    """Per code cell its outputs as strings, and the glued values by name."""
    cells, glued = [], {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            data = out.get("data", {})
            if name:
                glued[name] = json.dumps(data, sort_keys=True)
            elif out["output_type"] == "stream":
                outputs.append(_clean("".join(out["text"])))
            elif "image/png" in data or "image/svg+xml" in data:
                outputs.append("<figure>")
            elif data:
                outputs.append(_clean("".join(data.get("text/html") or data.get("text/plain", ""))))
            elif out["output_type"] == "error":
                outputs.append(f"<error {out['ename']}>")
        cells.append(outputs)
    return cells, glued


def compare(before: Path, after: Path) -> int:
    failures = 0
    for old in sorted(before.rglob("*.ipynb")):
        new = after / old.relative_to(before)
        if not new.is_file():
            print(f"{old.relative_to(before)}: missing after")
            failures += 1
            continue
        (cells_b, glue_b), (cells_a, glue_a) = read(old), read(new)
        lines = []
        for name in sorted(set(glue_b) | set(glue_a)):
            if glue_b.get(name) != glue_a.get(name):
                timing = bool(TIMING.search(name))
                failures += not timing
                lines.append(f"  glue {name}{' (timing)' if timing else ''}: {glue_b.get(name)} -> {glue_a.get(name)}")
        if len(cells_b) != len(cells_a):
            lines.append(f"  code cells: {len(cells_b)} -> {len(cells_a)} (outputs compared by position)")
        for i, (x, y) in enumerate(zip(cells_b, cells_a)):
            if x != y:
                lines.append(f"  code cell {i}: outputs differ")
        differ = sum(line.startswith("  glue") for line in lines)
        status = "identical" if not lines else f"{differ} glued value(s) differ, {len(lines) - differ} other line(s)"
        print(f"{old.relative_to(before)}: {len(glue_b)} glued values, {status}")
        for line in lines:
            print(line)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    return 1 if compare(args.before, args.after) else 0


if __name__ == "__main__":
    sys.exit(main())
