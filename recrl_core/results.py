"""Run provenance, and small JSON records of runs (written atomically).

Taught in: sec-how-to-use
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

from recrl_core import config


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.project_root(),
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def provenance(*, seed: int | None = None, started: float | None = None,
               mode: config.Mode | None = None, device: str = "cpu") -> dict:
    """Versions, mode, seed, device, git commit and (with ``started``) wall time of a run."""
    import numpy as np
    import pandas as pd
    import torch

    from recrl_core import __version__

    record = {
        "mode": (mode or config.current_mode()).value, "seed": seed, "device": device,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(),
        "recrl_core": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "pandas": pd.__version__, "git_commit": _git_commit(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    if started is not None:
        record["wall_seconds"] = round(time.perf_counter() - started, 2)
    return record


def save_run(path: Path, *, cfg=None, metrics: dict | None = None, extra: dict | None = None) -> Path:
    """Write ``{"config", "metrics", "provenance", ...}`` as JSON, atomically."""
    from recrl_core.data.files import atomic_path

    record = {"config": asdict(cfg) if is_dataclass(cfg) else cfg, "metrics": metrics or {},
              "provenance": provenance()} | (extra or {})
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


def load_run(path: Path) -> dict:
    """Read a record written by :func:`save_run`."""
    return json.loads(Path(path).read_text())


def write_report(report: dict, out: Path) -> str:
    """A benchmark's JSON report: add the machine, print it, write it to ``out`` atomically."""
    from recrl_core import hardware
    from recrl_core.data.files import atomic_path

    import torch

    report = report | {"machine": {"hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
                                   "python": platform.python_version(), "torch": torch.__version__},
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    text = json.dumps(report, indent=1, default=str)
    print(text)
    with atomic_path(Path(out)) as tmp:
        tmp.write_text(text + "\n")
    return text


def run_part(script: str | Path, *args: str) -> dict:
    """Run ``python script *args`` in a fresh process and parse the JSON on its last stdout line.

    Benchmarks measure each part in its own process so that its peak RSS is its own.
    """
    import sys

    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_part(fn) -> dict:
    """Run one benchmark part, add its wall time and this process's peak RSS, print it as one JSON line.

    The counterpart of :func:`run_part`, which reads that line from a fresh process.
    """
    import resource

    t = time.perf_counter()
    result = fn() | {"wall_s_total": round(time.perf_counter() - t, 1),
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(result))
    return result


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn()``, in milliseconds (latency of one request)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * statistics.median(times)
