"""Independent runs in worker processes, one torch thread each, results identical to running them in turn.

The online actor-critics of the book are small: one torch thread runs them nearly as
fast as two (``bench/bench_ialp.py``), so on a 2-core CPU two processes finish two
seeds in about the time one process with two threads takes for one. Every job runs
with a single torch thread wherever it runs, so the results do not depend on the
number of workers (tested).

Taught in: sec-ialp-online
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any


def default_workers(cap: int = 4) -> int:
    """The CPU cores this process may use, at most ``cap``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, cap))


def _single_threaded(fn: Callable, job: Any) -> Any:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(job)
    finally:
        torch.set_num_threads(before)


def map_jobs(fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int = 1) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` fresh processes (``spawn``) when workers > 1.

    ``fn`` must be importable (a module-level function of a library module) and jobs and
    results picklable. Environment variables (``RECRL_*``) reach the workers unchanged.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        return [_single_threaded(fn, job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial
    from multiprocessing import get_context

    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        return list(pool.map(partial(_single_threaded, fn), jobs))
