#!/usr/bin/env python
"""Execute the book's notebooks in one mode; record runtime and peak memory per notebook.

Usage::

    python scripts/run_notebooks.py --mode smoke                 # all notebooks in _toc.yml, in order
    python scripts/run_notebooks.py --mode full --out results/full/runs.json
    python scripts/run_notebooks.py --mode book book/ch04_sqn/02_sqn_sac.ipynb
    python scripts/run_notebooks.py --mode smoke --save-executed /tmp/executed
    python scripts/run_notebooks.py --table results/book/runs.json   # the README's table

Each notebook runs in a fresh kernel of *this* interpreter (kernel ``python3``;
jupyter_client swaps the kernelspec's ``python`` for ``sys.executable``), with
``RECRL_MODE`` set, the notebook's folder as working directory and a 1800 s
per-cell timeout, like the Jupyter Book build (spec-notebooks). Full mode
also sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (spec-determinism).

Peak memory is the largest sum of RSS over the kernel's process tree, polled
every 0.2 s with psutil. Without psutil it falls back to
``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest single child process so
far in this run, hence monotone over notebooks (reported in ``peak_rss_method``).

Executed notebooks are never written back to book/. The JSON written to
``--out`` (default ``results/<mode>/runs.json``, atomically) is::

    {"mode", "notebooks": [{"path", "seconds", "peak_rss_mb", "status", "error"}],
     "total_seconds", "peak_rss_method", "provenance": {...}}

Exit code 1 if any notebook failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

try:
    import psutil
except ImportError:  # pragma: no cover - psutil ships with the pinned stack
    psutil = None

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODES = ("smoke", "book", "full")
CELL_TIMEOUT_S = 1800
POLL_S = 0.2


# --------------------------------------------------------------------------- notebooks
def _toc_files(node) -> list[str]:
    """``file:`` entries of a jb-book _toc.yml node, depth first, in order."""
    files: list[str] = []
    if isinstance(node, list):
        for item in node:
            files += _toc_files(item)
    elif isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                files.append(str(node[key]))
        for key in ("parts", "chapters", "sections"):
            if key in node:
                files += _toc_files(node[key])
    return files


def notebooks_from_toc(toc: Path) -> list[Path]:
    """The ``.ipynb`` files listed in ``toc`` (paths relative to its folder), in book order."""
    data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
    found: list[Path] = []
    for entry in _toc_files(data):
        path = toc.parent / entry
        if path.suffix != ".ipynb":
            path = path.with_name(path.name + ".ipynb")
        if path.is_file() and path not in found:
            found.append(path)
    return found


# --------------------------------------------------------------------------- memory
class PeakRSS:
    """Poll the summed RSS of this process's children (the kernel tree) in a thread."""

    method = (
        "psutil: max over 0.2 s polls of the summed RSS of the kernel process tree"
        if psutil is not None
        else "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss: largest single child process so far"
    )

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            try:
                children = me.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(POLL_S)

    def __enter__(self) -> "PeakRSS":
        if psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if psutil is not None:
            self._stop.set()
            self._thread.join()
        else:
            import resource

            kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
            self.peak_bytes = kib * (1 if sys.platform == "darwin" else 1024)

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


# --------------------------------------------------------------------------- execution
def kernel_env(mode: str) -> dict[str, str]:
    """The kernel's environment: ours plus RECRL_MODE (and deterministic cuBLAS in full mode)."""
    env = dict(os.environ)
    env["RECRL_MODE"] = mode
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TQDM_DISABLE", "1")
    if mode == "full":
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    return env


def run_notebook(path: Path, mode: str, save_dir: Path | None = None,
                 root: Path = PROJECT_ROOT) -> dict:
    """Execute one notebook; return its record (path, seconds, peak_rss_mb, status, error).

    ``root`` is the book root: paths are reported, and saved under ``save_dir``, relative to it.
    """
    path = path.resolve()
    nb = nbformat.read(path, as_version=4)
    current = {"index": None}

    def on_cell_execute(cell, cell_index, **_):
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_execute=on_cell_execute,
    )
    error = None
    start = time.perf_counter()
    with PeakRSS() as mem:
        try:
            client.execute(env=kernel_env(mode))
        except CellExecutionError as exc:
            error = {"name": exc.ename, "value": str(exc.evalue)[:500], "cell": current["index"]}
        except (CellTimeoutError, DeadKernelError) as exc:
            error = {"name": type(exc).__name__, "value": str(exc)[:500], "cell": current["index"]}
    seconds = time.perf_counter() - start

    if save_dir is not None:
        rel = _relative(path, root)
        out = save_dir.resolve() / (rel if rel is not None else path.name)
        if out == path:
            raise ValueError(f"--save-executed would overwrite the source notebook {path}")
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return {
        "path": _display(path, root),
        "seconds": round(seconds, 2),
        "peak_rss_mb": mem.peak_mb,
        "status": "ok" if error is None else "error",
        "error": error,
    }


# --------------------------------------------------------------------------- provenance
def provenance() -> dict:
    info = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for package in ("torch", "recrl-core", "nbclient"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT,
                                   capture_output=True, text=True, timeout=10)
            info["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_json_atomic(data: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relative(path: Path, root: Path) -> Path | None:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _display(path: Path, root: Path = PROJECT_ROOT) -> str:
    rel = _relative(path, root)
    return rel.as_posix() if rel is not None else str(path)


def markdown_table(runs: list[dict], order: list[str] | None = None, budget_s: float = 300.0) -> str:
    """The README's per-notebook table from one or more runs.json dicts (later runs win per notebook).

    Rows follow ``order`` (e.g. the table of contents' paths), then any others in the order seen.
    """
    by_path = {}
    for run in runs:
        for r in run["notebooks"]:
            by_path[r["path"]] = r | {"mode": run["mode"]}
    rank = {p: i for i, p in enumerate(order or [])}
    lines = ["| Notebook | Time | Peak RSS | Status |", "|---|---:|---:|---|"]
    for path, r in sorted(by_path.items(), key=lambda kv: rank.get(kv[0], len(rank))):
        over = " (over 5 min)" if r["seconds"] > budget_s and r["mode"] == "book" else ""
        lines.append(f"| `{path.removeprefix('book/')}` | {r['seconds'] / 60:.1f} min{over} | "
                     f"{r['peak_rss_mb'] / 1024:.1f} GB | {r['status']} |")
    total = sum(r["seconds"] for r in by_path.values())
    lines.append(f"| **all {len(by_path)} notebooks** | **{total / 60:.0f} min** | "
                 f"{max(r['peak_rss_mb'] for r in by_path.values()) / 1024:.1f} GB (max) | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to run (default: every .ipynb in _toc.yml, in order)")
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="print the per-notebook Markdown table of earlier runs.json files and exit")
    parser.add_argument("--out", type=Path, help="JSON output (default: results/<mode>/runs.json)")
    parser.add_argument("--toc", type=Path, default=PROJECT_ROOT / "_toc.yml",
                        help="table of contents used when no paths are given")
    parser.add_argument("--save-executed", type=Path, metavar="DIR",
                        help="also write the executed notebooks under DIR (never into book/)")
    args = parser.parse_args(argv)
    if args.table:
        root = args.toc.resolve().parent
        order = [_display(p, root) for p in notebooks_from_toc(args.toc)] if args.toc.is_file() else None
        print(markdown_table([json.loads(p.read_text()) for p in args.table], order))
        return 0
    if args.mode is None:
        parser.error("--mode is required to run notebooks")

    if not args.paths and not args.toc.is_file():
        parser.error(f"no notebooks given and no table of contents at {args.toc}")
    notebooks = args.paths or notebooks_from_toc(args.toc)
    if not notebooks:
        parser.error(f"no notebooks given and none listed in {args.toc}")
    out = args.out or PROJECT_ROOT / "results" / args.mode / "runs.json"

    root = args.toc.resolve().parent
    records = []
    total_start = time.perf_counter()
    for path in notebooks:
        print(f"[{args.mode}] {_display(path, root)} ...", end=" ", flush=True, file=sys.stderr)
        record = run_notebook(path, args.mode, args.save_executed, root)
        records.append(record)
        err = record["error"]
        note = f" {err['name']} in cell {err['cell']}" if err else ""
        print(f"{record['status']}{note} ({record['seconds']} s, {record['peak_rss_mb']} MB)",
              file=sys.stderr, flush=True)

    data = {
        "mode": args.mode,
        "notebooks": records,
        "total_seconds": round(time.perf_counter() - total_start, 2),
        "peak_rss_method": PeakRSS.method,
        "provenance": provenance(),
    }
    write_json_atomic(data, out)
    failed = [r["path"] for r in records if r["status"] != "ok"]
    print(f"wrote {out}; {len(records) - len(failed)}/{len(records)} ok", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
