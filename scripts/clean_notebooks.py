#!/usr/bin/env python
"""Strip outputs, execution counts and volatile metadata from the book's notebooks.

Notebooks are committed without outputs (spec-notebooks); the website is built
by executing them. This script puts every notebook into one canonical form:

* code cells: ``outputs = []``, ``execution_count = None``;
* cell metadata: only the keys in ``CELL_METADATA_KEYS`` survive
  (``jupyter`` keeps only ``source_hidden`` / ``outputs_hidden``);
* notebook metadata: ``kernelspec`` normalised to python3, ``language_info``
  reduced to ``{"name": "python"}``, ``mystnb`` kept, everything else
  (widget state, jupytext, vscode, colab, ...) dropped;
* cells without an id (nbformat 4.5) get a deterministic one;
* JSON written by ``nbformat.writes`` (indent 1, sorted keys) plus a final newline.

Usage::

    python scripts/clean_notebooks.py            # rewrite book/**/*.ipynb in place
    python scripts/clean_notebooks.py --check    # CI: list dirty notebooks, exit 1 if any
    python scripts/clean_notebooks.py book/ch01_data/01_interaction_logs.ipynb

Importable: ``clean(nb) -> nb`` (a cleaned copy) and ``is_clean(nb) -> list[str]``
(reasons; empty when clean).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path

import nbformat

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"_build", ".ipynb_checkpoints"}

CELL_METADATA_KEYS = ("tags", "mystnb", "editable", "slideshow", "jupyter", "raw_mimetype")
JUPYTER_KEYS = ("source_hidden", "outputs_hidden")
NOTEBOOK_METADATA_KEYS = ("kernelspec", "language_info", "mystnb")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}


def _cell_id(index: int, source: str, taken: set[str]) -> str:
    """A deterministic cell id from the cell's position and source (unique within the notebook)."""
    salt = 0
    while True:
        digest = hashlib.sha1(f"{index}:{salt}:{source}".encode()).hexdigest()[:8]
        if digest not in taken:
            return digest
        salt += 1


def _clean_inplace(nb, reasons: list[str]) -> None:
    """Clean ``nb`` in place, appending a human-readable reason for every change."""
    for i, cell in enumerate(nb.cells):
        where = f"cell {i} ({cell.cell_type})"
        if cell.cell_type == "code":
            if cell.get("outputs"):
                reasons.append(f"{where}: {len(cell.outputs)} output(s)")
            if cell.get("execution_count") is not None:
                reasons.append(f"{where}: execution_count={cell.execution_count}")
            cell.outputs = []
            cell.execution_count = None
        meta = cell.get("metadata", {})
        dropped = sorted(k for k in meta if k not in CELL_METADATA_KEYS)
        if "jupyter" in meta:
            jup = meta["jupyter"] if isinstance(meta["jupyter"], dict) else {}
            extra = sorted(k for k in jup if k not in JUPYTER_KEYS)
            dropped += [f"jupyter.{k}" for k in extra]
            kept = {k: jup[k] for k in JUPYTER_KEYS if k in jup}
            if kept:
                meta["jupyter"] = kept
            else:
                del meta["jupyter"]
                if not extra:
                    dropped.append("jupyter (empty)")
        if dropped:
            reasons.append(f"{where}: volatile metadata {', '.join(dropped)}")
        cell.metadata = nbformat.NotebookNode(
            {k: meta[k] for k in CELL_METADATA_KEYS if k in meta}
        )

    # nbformat 4.5 cell ids: keep existing ones, fill missing or duplicated ones deterministically.
    if nb.nbformat == 4 and nb.nbformat_minor >= 5:
        taken: set[str] = set()
        for i, cell in enumerate(nb.cells):
            cid = cell.get("id")
            if not cid or cid in taken:
                cell.id = _cell_id(i, cell.source, taken)
                reasons.append(f"cell {i}: {'missing' if not cid else 'duplicate'} cell id")
            taken.add(cell.id)

    meta = nb.metadata
    dropped = sorted(k for k in meta if k not in NOTEBOOK_METADATA_KEYS)
    if dropped:
        reasons.append(f"notebook metadata: volatile keys {', '.join(dropped)}")
    if dict(meta.get("kernelspec", {})) != KERNELSPEC:
        reasons.append("notebook metadata: kernelspec not python3 / 'Python 3 (ipykernel)'")
    if dict(meta.get("language_info", {})) != LANGUAGE_INFO:
        reasons.append('notebook metadata: language_info is not {"name": "python"}')
    new_meta = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    if "mystnb" in meta:
        new_meta["mystnb"] = meta["mystnb"]
    nb.metadata = nbformat.from_dict(new_meta)


def clean(nb):
    """Return a cleaned deep copy of notebook ``nb`` (an ``nbformat.NotebookNode``)."""
    nb = copy.deepcopy(nb)
    _clean_inplace(nb, [])
    return nb


def is_clean(nb) -> list[str]:
    """Reasons why ``nb`` is not clean; an empty list means clean."""
    reasons: list[str] = []
    _clean_inplace(copy.deepcopy(nb), reasons)
    return reasons


def canonical_text(nb) -> str:
    """The exact text a clean notebook is written as (nbformat JSON, final newline)."""
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def check_file(path: Path) -> tuple[list[str], str]:
    """Reasons ``path`` is dirty (empty if clean) and its canonical cleaned text."""
    raw = path.read_text(encoding="utf-8")
    # json + from_dict, not nbformat.reads: reads() would fill missing cell ids with random ones.
    nb = nbformat.from_dict(json.loads(raw))
    reasons: list[str] = []
    _clean_inplace(nb, reasons)
    text = canonical_text(nb)
    if not reasons and raw != text:
        reasons.append("JSON layout differs from nbformat's (indent 1, sorted keys, final newline)")
    return reasons, text


def find_notebooks(paths: list[str] | None) -> list[Path]:
    """Notebooks named by ``paths`` (files or folders); default: everything under book/."""
    roots = [Path(p) for p in paths] if paths else [PROJECT_ROOT / "book"]
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(
                p for p in root.rglob("*.ipynb") if not SKIP_DIRS.intersection(p.parts)
            )
        else:
            raise FileNotFoundError(f"no such file or folder: {root}")
    return found


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: book/)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list dirty notebooks and exit 1 if any")
    args = parser.parse_args(argv)

    notebooks = find_notebooks(args.paths)
    dirty = 0
    for path in notebooks:
        reasons, text = check_file(path)
        if not reasons:
            continue
        dirty += 1
        if args.check:
            print(f"{_display(path)}: not clean")
            for reason in reasons:
                print(f"  - {reason}")
        else:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"cleaned {_display(path)} ({len(reasons)} change(s))")

    verb = "dirty" if args.check else "cleaned"
    print(f"{len(notebooks)} notebook(s) checked, {dirty} {verb}", file=sys.stderr)
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
