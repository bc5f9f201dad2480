#!/usr/bin/env python
"""Benchmark: training throughput and peak memory of CE vs SQN vs SA2C, per backbone.

On the whole of ml-latest-small (book-mode data, 5-core, global-time train
split), for each backbone (GRU4Rec, Caser, SASRec) and each loss (CE, SQN, SAC,
SNQN, SA2C) it times ``--steps`` updates at batch 256 after 5 warm-up updates,
each configuration in a fresh subprocess so its peak RSS is its own. CE is the
baseline measured in the same run: the RL overhead is reported as the ratio of
seconds per update (target: SQN/SA2C <= 2.5x CE). It also times one full epoch of
SASRec-SQN (target: under a minute on a 2-core CPU) and the full-ranking
evaluation throughput of that SASRec on the test events.

Prints JSON and writes ``bench/out/training.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_training.py [--steps 60]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BACKBONES = ("gru4rec", "caser", "sasrec")
METHODS = ("ce", "sqn", "sac", "snqn", "sa2c")


def _setup(backbone: str):
    import numpy as np
    import torch

    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.data import prepare, replay, transitions
    from recrl_core.seqrec import heads

    torch.manual_seed(0)
    data = prepare.prepare(prepare.DataConfig.for_mode(Mode.BOOK), config.data_dir())
    rows = transitions.build_transitions(data.train, transitions.TransitionConfig(), data.encoded.pad_id)
    enc = heads.EncoderConfig(backbone=backbone)
    make = lambda: heads.TwoHead(heads.build_encoder(enc, data.num_items), data.num_items, enc.state_len)
    item_prob = np.bincount(rows.action, minlength=data.num_items) / len(rows)
    return data, replay.ReplayBuffer(rows), make, item_prob


def measure_one(backbone: str, method: str, steps: int, epoch: bool) -> dict:
    """Seconds per update (and optionally one epoch) for one backbone x method, in this process."""
    import numpy as np
    import torch

    from recrl_core.rl import double_q, sa2c, sqn
    from recrl_core.train import loops

    data, buffer, make, item_prob = _setup(backbone)
    rng = np.random.default_rng(0)
    if method == "ce":
        model = make()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        update = lambda i: loops.supervised_step(model, optimizer, buffer.sample(256, rng).to_torch())
    else:
        cfg = (sqn.SQNConfig() if method in ("sqn", "sac") else sa2c.SA2CConfig())
        pair = double_q.DoubleQPair(make(), make(), cfg.lr, getattr(cfg, "lr_2", None))
        prob = torch.as_tensor(item_prob, dtype=torch.float32)
        # step index past the warm-up so SAC/SA2C run their phase-2 losses
        update = lambda i: loops.rl_step(pair, buffer.sample(256, rng).to_torch(), method, cfg,
                                         cfg.warmup_steps + i, rng, prob)
    for i in range(5):
        update(i)
    start = time.perf_counter()
    n = loops.total_steps(len(buffer), 256, 1) if epoch else steps
    for i in range(n):
        update(i)
    wall = time.perf_counter() - start
    out = {"backbone": backbone, "method": method, "updates": n, "wall_s": round(wall, 2),
           "s_per_update": round(wall / n, 4), "transitions_per_s": round(256 * n / wall, 1),
           "train_rows": len(buffer), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if epoch and method == "sqn":
        from recrl_core.eval import offline

        net = pair.networks[0].eval()
        start = time.perf_counter()
        offline.rank_events(net, data.test, top_k=20, mask_history=True)
        eval_s = time.perf_counter() - start
        out["eval"] = {"test_events": len(data.test), "num_items": data.num_items, "wall_s": round(eval_s, 2),
                       "user_states_per_s": round(len(data.test) / eval_s, 1)}
    return out


def run_child(backbone: str, method: str, steps: int, epoch: bool = False) -> dict:
    args = [sys.executable, __file__, "--one", backbone, method, "--steps", str(steps)] + (["--epoch"] if epoch else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--one", nargs=2, metavar=("BACKBONE", "METHOD"))
    parser.add_argument("--epoch", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/out/training.json"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one, args.steps, args.epoch)))
        return
    runs = [run_child(b, m, args.steps) for b in BACKBONES for m in METHODS]
    ce = {r["backbone"]: r["s_per_update"] for r in runs if r["method"] == "ce"}
    for r in runs:
        r["overhead_vs_ce"] = round(r["s_per_update"] / ce[r["backbone"]], 2)
    from recrl_core import results

    results.write_report({"benchmark": "training throughput, whole ml-latest-small, batch 256", "runs": runs,
                          "sasrec_sqn_epoch": run_child("sasrec", "sqn", args.steps, epoch=True)}, args.out)


if __name__ == "__main__":
    main()
