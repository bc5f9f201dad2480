#!/usr/bin/env python
"""Wall time and peak memory of whole commands (tests, smoke site build).

Usage::

    python bench/bench_commands.py                       # baseline + `make test-only` + smoke and book site builds
    python bench/bench_commands.py --cmd unit="pytest tests/unit -q" --cmd lint="ruff check ."

Every command runs through ``bash -c`` from the project root, after a
``baseline`` entry (``python -c "import recrl_core"``: interpreter plus package
import) measured in the same run. Results are printed as JSON on stdout and
written to ``bench/out/commands.json``; each command's own output goes to
``bench/out/<name>.log``.

Peak memory (``peak_rss_mb``) is the largest *sum* of RSS over the command's
process tree, polled every 0.1 s with psutil (short spikes between polls are
missed; pages shared between processes count once per process). Where ``/usr/bin/time -v``
exists the command also runs under it, and ``max_single_rss_mb`` reports GNU
time's "Maximum resident set size": the largest single process of the tree,
which also floors ``peak_rss_mb`` (commands shorter than a poll). Without
psutil it is the only figure; ``peak_rss_method`` says which was used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
GNU_TIME = "/usr/bin/time"
DEFAULT_CMDS = {"test": "make test-only", "site_smoke": "make site MODE=smoke", "site_book": "make site MODE=book"}
POLL_S = 0.1


def has_gnu_time() -> bool:
    if not os.access(GNU_TIME, os.X_OK):
        return False
    probe = subprocess.run([GNU_TIME, "-v", "true"], capture_output=True, text=True)
    return probe.returncode == 0 and "Maximum resident set size" in probe.stderr


def tree_rss(proc: "psutil.Process") -> int:
    """Summed RSS (bytes) of ``proc`` and all its descendants right now."""
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(name: str, command: str, use_time: bool) -> dict:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    argv = ["bash", "-c", command]
    time_file = None
    if use_time:
        fd, time_file = tempfile.mkstemp(prefix="time-", suffix=".txt")
        os.close(fd)
        argv = [GNU_TIME, "-v", "-o", time_file, *argv]

    peak = [0]
    done = threading.Event()

    def poll(pid: int) -> None:
        try:
            watched = psutil.Process(pid)
        except psutil.Error:
            return
        while not done.wait(POLL_S / 5 if peak[0] == 0 else POLL_S):
            peak[0] = max(peak[0], tree_rss(watched))

    with open(OUT_DIR / f"{name}.log", "w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        poller = threading.Thread(target=poll, args=(proc.pid,), daemon=True)
        if psutil is not None:
            poller.start()
        exit_code = proc.wait()  # the wall clock does not wait for the poller
        wall = time.perf_counter() - start
        done.set()
        if psutil is not None:
            poller.join()

    result = {"name": name, "command": command, "wall_s": round(wall, 2)}
    single_mb = None
    if time_file:
        text = Path(time_file).read_text()
        Path(time_file).unlink()
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        single_mb = round(int(match.group(1)) / 1024, 1) if match else None
    if psutil is not None:
        # The tree sum is never below its largest member, so GNU time's figure is a floor
        # (it catches commands too short for polling, such as the baseline).
        result["peak_rss_mb"] = max(round(peak[0] / 2**20, 1), single_mb or 0.0)
        result["peak_rss_method"] = (f"psutil: summed RSS of the process tree, polled every {POLL_S} s"
                                     + (", floored at GNU time's largest process" if use_time else ""))
    else:
        result["peak_rss_mb"] = single_mb
        result["peak_rss_method"] = "gnu-time: largest single process (no tree sum without psutil)"
    result["max_single_rss_mb"] = single_mb
    result["exit_code"] = exit_code
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cmd", action="append", default=[], metavar="NAME=COMMAND",
                        help="command to measure (repeatable; replaces the default set)")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "commands.json")
    args = parser.parse_args(argv)

    commands = dict(DEFAULT_CMDS)
    if args.cmd:
        commands = {}
        for item in args.cmd:
            name, sep, command = item.partition("=")
            if not sep or not name or not command:
                parser.error(f"--cmd expects NAME=COMMAND, got {item!r}")
            commands[name] = command
    if "baseline" in commands:
        parser.error("the name 'baseline' is reserved")
    use_time = has_gnu_time()
    if psutil is None and not use_time:
        parser.error("needs psutil or GNU time at /usr/bin/time")

    baseline = f'{shlex.quote(sys.executable)} -c "import recrl_core"'
    runs = [measure("baseline", baseline, use_time)]
    for name, command in commands.items():
        print(f"running {name}: {command}", file=sys.stderr, flush=True)
        runs.append(measure(name, command, use_time))

    report = {
        "commands": runs,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpu_count": os.cpu_count()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
