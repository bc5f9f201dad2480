#!/usr/bin/env python
"""Benchmark: full-ranking evaluation throughput of the ALS baseline, batched vs a naive loop.

For the Fantasy|Romance slice and for the whole of ml-latest-small (book-mode
data), fits implicit ALS once, then ranks every test event against the whole
catalogue two ways, in the same run:

* ``batched`` — ``offline.rank_events``: 512 histories per step, one score
  matrix, vectorised rank and top-k;
* ``naive``   — one event at a time: score one history, ``np.argsort`` the
  catalogue, look up the target's position (the loop many first versions write).

Both must give identical ranks. Prints JSON (throughput in evaluated user
states per second, wall time, peak RSS) and writes ``bench/out/ranking.json``.

Usage: ``RECRL_DATA_DIR=... python bench/bench_ranking.py [--naive-limit 2000]``
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

from recrl_core import config, results
from recrl_core.baselines import mf
from recrl_core.config import Mode
from recrl_core.data import prepare
from recrl_core.eval import offline


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def naive_ranks(model, events, limit: int) -> np.ndarray:
    """One history at a time, full argsort: the baseline the batched path is compared with."""
    ranks = []
    with torch.no_grad():
        for m in range(min(limit, len(events))):
            scores = model.score(torch.as_tensor(events.users[m:m + 1]), torch.as_tensor(events.items[m:m + 1]),
                                 torch.as_tensor(events.lengths[m:m + 1]))[0].numpy()
            order = np.lexsort((np.arange(len(scores)), -scores))        # score desc, then index asc
            ranks.append(int(np.flatnonzero(order == events.target[m])[0]) + 1)
    return np.array(ranks, dtype=float)


def bench_one(name: str, cfg: prepare.DataConfig, data_dir: Path, naive_limit: int) -> dict:
    data = prepare.prepare(cfg, data_dir)
    model = mf.ImplicitALS(data.num_users, data.num_items, mf.ALSConfig.for_mode(Mode.BOOK)).fit(data.train)
    events = data.test
    start = time.perf_counter()
    ranked = offline.rank_events(model, events, top_k=20)
    batched_s = time.perf_counter() - start
    n_naive = min(naive_limit, len(events))
    start = time.perf_counter()
    slow = naive_ranks(model, events, n_naive)
    naive_s = time.perf_counter() - start
    assert np.array_equal(slow, ranked.ranks[:n_naive]), "batched and naive ranks differ"
    batched_tp, naive_tp = len(events) / batched_s, n_naive / naive_s
    return {"dataset": name, "num_items": data.num_items, "test_events": len(events),
            "batched": {"events": len(events), "wall_s": round(batched_s, 3),
                        "user_states_per_s": round(batched_tp, 1)},
            "naive": {"events": n_naive, "wall_s": round(naive_s, 3),
                      "user_states_per_s": round(naive_tp, 1)},
            "speedup": round(batched_tp / naive_tp, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive-limit", type=int, default=2000, help="events timed in the naive loop")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ranking.json"))
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    data_dir = config.data_dir()
    runs = [bench_one("ml-latest-small Fantasy|Romance",
                      prepare.DataConfig.for_mode(Mode.BOOK, genres=("Fantasy", "Romance")), data_dir,
                      args.naive_limit),
            bench_one("ml-latest-small (all)", prepare.DataConfig.for_mode(Mode.BOOK), data_dir,
                      args.naive_limit)]
    results.write_report({"benchmark": "full-ranking evaluation, implicit ALS (fold-in scoring)", "runs": runs,
                          "peak_rss_mb": round(peak_rss_mb(), 1)}, args.out)


if __name__ == "__main__":
    main()
