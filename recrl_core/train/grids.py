"""Grids of independent runs (seeds × configs) spread over the processes of one launch.

Each process runs its contiguous block of jobs, each job alone (its training is not split), and
writes one JSON file per job; the table is read back in job order, so 1, 2 or 8 processes give the
same table, and a grid can be resumed or spread over several launches (a job whose file exists
is not run again). Within one notebook process, ``train.parallel.map_jobs`` spreads jobs over
worker processes instead.

Spec: spec-scaling-out.
Taught in: sec-scaling-out
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recrl_core import distributed
from recrl_core.data.files import atomic_path


def run_grid(fn: Callable[[Any], dict], jobs: Sequence[Any], names: Sequence[str], out_dir: Path,
             w: distributed.World) -> list[dict]:
    """Run this process's block of ``jobs`` (``fn(job) -> dict`` of JSON values), one file per job.

    ``names[i]`` names job i's file (``<out_dir>/<name>.json``, written atomically); a job whose
    file exists is not run again, so a grid can be resumed or spread over several launches.
    Each job runs ``distributed.alone()``: its own training is not split over the processes.
    Returns every job's result, in job order, once all processes are done.
    """
    if len(set(names)) != len(names):
        raise ValueError("run_grid: job names must be unique (they name the result files)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in distributed.shard(len(jobs), w):
        path = out_dir / f"{names[i]}.json"
        if not path.exists():
            with distributed.alone():                            # the job trains in this process only
                result = fn(jobs[i])
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(result, sort_keys=True))
    distributed.barrier(w)
    return merge_grid(out_dir, names)


def merge_grid(out_dir: Path, names: Sequence[str]) -> list[dict]:
    """The result files of a grid, in job order; names the missing ones."""
    missing = [n for n in names if not (Path(out_dir) / f"{n}.json").exists()]
    if missing:
        raise FileNotFoundError(f"{out_dir}: no result for {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                                "run the grid (again) to compute them")
    return [json.loads((Path(out_dir) / f"{n}.json").read_text()) for n in names]
