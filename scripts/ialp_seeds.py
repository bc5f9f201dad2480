#!/usr/bin/env python
"""Ch. 9's online comparison with more seeds than book mode affords: paired differences and 95 % t-intervals.

Runs, for every simulator and seed, what ``book/ch09_ialp/02_online_adaptation.ipynb``
runs — iALP pre-trained on SmolLM2's labels and on random labels, then A2C from scratch,
iALP frozen, A-iALP ft, A-iALP ap and A-iALP ft on random labels online — at the sizes of
``--mode`` and with the chapter's cached steps (``methods.ialp.pipeline``), so the seeds
the chapter ran are read back, not recomputed. Seeds run in ``--workers`` processes with
one torch thread each (the networks are small: one thread is nearly as fast as two).

Prints JSON (per simulator and method: mean and 95 % t-interval of the difference to A2C
from scratch, and of A-iALP ft with the LLM's labels minus with random labels) and writes
``--out``. Usage: ``RECRL_DATA_DIR=... python scripts/ialp_seeds.py --seeds 10 --workers 2``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

METHODS = ("A2C from scratch", "iALP frozen", "A-iALP ft", "A-iALP ap", "A-iALP ft, random labels")
METRICS = ("jump_start", "auc", "final", "length", "coverage")


def _setup(mode_name: str):
    from recrl_core.config import Mode
    from recrl_core.methods.ialp import adaptation, ialp_task, labels, learned_env, reward_model
    from recrl_core.train import online

    mode = Mode(mode_name)
    grid = ialp_task.IALPGridConfig.for_mode(mode)
    return (mode, grid, labels.LabelConfig.for_mode(mode), reward_model.RewardModelConfig.for_mode(mode),
            learned_env.LearnedEnvConfig.for_mode(mode),
            dataclasses.replace(online.A2CConfig.for_mode(mode), updates=grid.online_updates),
            adaptation.AdaptConfig.for_mode(mode))


def lessons(mode_name: str, names: list[str]) -> dict:
    """SmolLM2's and the random teacher's lessons per simulator (the LLM's from the label cache)."""
    from recrl_core import config, notebook
    from recrl_core.llm import models
    from recrl_core.methods.ialp import ialp_task, pipeline

    mode, grid, label_cfg, *_ = _setup(mode_name)
    lm_name, device = notebook.language_model(mode)
    lm, tok = models.load_lm(lm_name, device=device)
    out = {}
    for name in names:
        env = ialp_task.make_environment(name, mode, config.data_dir())
        for teacher in ("llm", "random"):
            out[name, teacher] = pipeline.teach(env, teacher, label_cfg, lm=lm, tokenizer=tok, lm_name=lm_name)
    return out


def seed_summaries(job: tuple) -> list[dict]:
    """One simulator and seed: the chapter's five online runs, summarised (runs in a worker process)."""
    import torch

    torch.set_num_threads(1)
    from recrl_core import config
    from recrl_core.methods.ialp import adaptation, ialp_task, pipeline

    mode_name, name, seed, taught_llm, taught_random = job
    mode, grid, _, rm_cfg, learned_cfg, a2c_cfg, adapt_cfg = _setup(mode_name)
    env = ialp_task.make_environment(name, mode, config.data_dir())
    ev = pipeline.evaluation(env, grid.eval_sessions, grid.checkpoints)
    pre = pipeline.ialp_policy(env, taught_llm, rm_cfg, a2c_cfg, learned_cfg, seed)[0]
    pre_random = pipeline.ialp_policy(env, taught_random, rm_cfg, a2c_cfg, learned_cfg, seed)[0]

    def fixed(w):
        return dataclasses.replace(adapt_cfg, rule="fixed", fixed_w=w)

    def scratch():
        return pipeline.new_policy(env, a2c_cfg.hidden_size, a2c_cfg.encoder, 1000 + seed)

    specs = {"A2C from scratch": (None, scratch(), fixed(0.0), True), "iALP frozen": (pre, None, fixed(1.0), False),
             "A-iALP ft": (None, adaptation.fine_tune_start(pre, adapt_cfg), fixed(0.0), True),
             "A-iALP ap": (pre, scratch(), adapt_cfg, True),
             "A-iALP ft, random labels": (None, adaptation.fine_tune_start(pre_random, adapt_cfg), fixed(0.0), True)}
    return [{"simulator": name, "method": method, "seed": seed,
             **adaptation.curve_summary(pipeline.online(env, p, o, a2c_cfg, cfg, seed, ev, learn=learn),
                                        a2c_cfg.updates)}
            for method, (p, o, cfg, learn) in specs.items()]


def paired(rows, name: str, method: str, base: str, metric: str) -> dict:
    import numpy as np
    from scipy import stats

    value = {(r["method"], r["seed"]): r[metric] for r in rows if r["simulator"] == name}
    seeds = sorted({s for _, s in value})
    diff = np.array([value[method, s] - value[base, s] for s in seeds])
    half = float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))
    low, high = float(diff.mean()) - half, float(diff.mean()) + half
    return {"difference": round(float(diff.mean()), 4), "low": round(low, 4), "high": round(high, 4),
            "verdict": "better" if low > 0 else "worse" if high < 0 else "undecided"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="book", choices=["smoke", "book", "full"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--simulators", default="interest,movielens,lastfm")
    parser.add_argument("--out", type=Path, default=Path("bench/out/ialp_seeds.json"))
    args = parser.parse_args()
    from recrl_core import results

    names = args.simulators.split(",")
    taught = lessons(args.mode, names)
    jobs = [(args.mode, name, seed, taught[name, "llm"], taught[name, "random"])
            for name in names for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        rows = [row for part in pool.map(seed_summaries, jobs) for row in part]
    report = {"experiment": "Ch. 9 online comparison over more seeds", "mode": args.mode, "seeds": args.seeds,
              "versus_scratch": {name: {method: {metric: paired(rows, name, method, "A2C from scratch", metric)
                                                 for metric in ("jump_start", "auc", "final")}
                                        for method in METHODS[1:]} for name in names},
              "llm_minus_random_labels_ft_auc": {name: paired(rows, name, "A-iALP ft", "A-iALP ft, random labels",
                                                              "auc") for name in names},
              "means": {f"{r_name} / {method}": {metric: round(float(sum(r[metric] for r in rows
                                                                        if r["simulator"] == r_name
                                                                        and r["method"] == method)) / args.seeds, 4)
                                                 for metric in METRICS}
                        for r_name in names for method in METHODS}}
    results.write_report(report, args.out)
    print(json.dumps({"rows": len(rows)}))


if __name__ == "__main__":
    main()
