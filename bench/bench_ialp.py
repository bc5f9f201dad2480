#!/usr/bin/env python
"""Benchmark: iALP (Ch. 9) — the LLM teacher's labelling throughput and the online loop's cost.

Two measurements, each in a fresh subprocess so that its peak RSS is its own:

1. ``labelling``: logged states labelled per second by SmolLM2 on the MovieLens-grounded
   environment (book sizes, M = 10 candidates, no cache), as the library does it — every
   state's prompt once, its candidates as branches of a token tree, several states per
   forward (``llm.candidates.score_candidate_sets``) — against the baseline of one full
   prompt + candidate sequence per candidate, one state per forward
   (``generation.teacher_forced``). Both give the same scores (checked).
2. ``online``: updates per second of the online loop on the same environment (book sizes,
   64 sessions per update): Ch. 6's ``fit_a2c`` (the baseline), ``fit_mixture`` with w = 0
   (the same computation through A-iALP's loop), A-iALP_ap (two networks serve) and iALP
   pre-training on the learned user model (the reward model is one more forward per step).
   ``X_vs_fit_a2c`` is fit_a2c's rate over X's: above 1, X is slower. One untimed warm-up run first.

Prints JSON and writes ``bench/out/ialp.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_ialp.py [--states 24] [--updates 300]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path


def _environment():
    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.methods.ialp import ialp_task

    return ialp_task.make_environment("movielens", Mode.BOOK, config.data_dir())


def labelling(args) -> dict:
    import numpy as np
    import torch

    from recrl_core.config import Mode
    from recrl_core.llm import candidates, generation, logprobs, models, prompts
    from recrl_core.methods.ialp import labels

    env = _environment()
    cfg = dataclasses.replace(labels.LabelConfig.for_mode(Mode.BOOK), states=args.states)
    rows = labels.label_rows(env, cfg)
    knn = labels.base_recommender(env)
    pools = labels.candidate_pools(env.logs.seen[rows], env.popularity,
                                   labels.base_scores(knn, env.logs.items[rows], env.logs.lengths[rows]), cfg,
                                   np.random.default_rng(0))
    lm, tok = models.load_lm(args.model)
    liked = labels.liked_texts(env.item_texts, env.logs.items[rows], env.logs.feedback[rows], env.logs.lengths[rows])
    asks = [prompts.preference_prompt(tok, titles, cfg.history_shown) for titles in liked]
    replies = [[env.item_texts[i] for i in pool] for pool in pools]
    out = {"states": len(rows), "candidates": cfg.candidates}

    t = time.perf_counter()
    naive, tokens = [], 0
    with torch.no_grad():
        for ask, reply in zip(asks, replies):
            full = generation.teacher_forced(tok, [ask] * len(reply), reply)
            lp = logprobs.token_logprobs(lm, full)                                  # (M, T)
            naive.append((lp.sum(1) / full.response_mask.sum(1)).double().numpy())
            tokens += int(full.prompt_mask.sum() + full.response_mask.sum())
    seconds = time.perf_counter() - t
    out["one_sequence_per_candidate"] = {"seconds": round(seconds, 2), "states_per_s": round(len(rows) / seconds, 2),
                                         "lm_tokens": tokens}
    t = time.perf_counter()
    tree = candidates.score_candidate_sets(lm, tok, asks, replies)
    seconds = time.perf_counter() - t
    tree_tokens = sum(len(tok(a, add_special_tokens=False)["input_ids"]) +
                      sum(len(tok(r, add_special_tokens=False)["input_ids"]) + 1 for r in reply)
                      for a, reply in zip(asks, replies))
    out["token_tree_batched"] = {"seconds": round(seconds, 2), "states_per_s": round(len(rows) / seconds, 2),
                                 "lm_tokens": tree_tokens}
    out["max_abs_score_difference"] = float(max(np.abs(a - b).max() for a, b in zip(tree, naive)))
    out["speedup"] = round(out["token_tree_batched"]["states_per_s"] / out["one_sequence_per_candidate"]["states_per_s"],
                           2)
    return out


def online(args) -> dict:
    import numpy as np

    from recrl_core.config import Mode
    from recrl_core.methods.ialp import adaptation, learned_env, pipeline, reward_model
    from recrl_core.train import online as online_a2c

    env = _environment()
    a2c = dataclasses.replace(online_a2c.A2CConfig.for_mode(Mode.BOOK), updates=args.updates)
    rm = reward_model.RewardModel(env.num_items, reward_model.RewardModelConfig(), env.item_features).eval()

    def net(seed):
        return pipeline.new_policy(env, a2c.hidden_size, a2c.encoder, seed)

    runs = {
        "fit_a2c": lambda: online_a2c.fit_a2c(env.simulator(), net(0), a2c, np.random.default_rng(0)),
        "fit_mixture_w0": lambda: adaptation.fit_mixture(env.simulator(), None, net(0), a2c,
                                                         adaptation.AdaptConfig(rule="fixed", fixed_w=0.0),
                                                         np.random.default_rng(0)),
        "a_ialp_ap": lambda: adaptation.fit_mixture(env.simulator(), net(1), net(0), a2c, adaptation.AdaptConfig(),
                                                    np.random.default_rng(0)),
        "pretrain_learned_env": lambda: online_a2c.fit_a2c(learned_env.LearnedUserEnv(env.logs, rm,
                                                                                      learned_env.LearnedEnvConfig()),
                                                           net(0), a2c, np.random.default_rng(0)),
    }
    out = {"items": env.num_items, "sessions_per_update": a2c.num_envs, "updates": a2c.updates}
    online_a2c.fit_a2c(env.simulator(), net(0), dataclasses.replace(a2c, updates=20), np.random.default_rng(0))  # warm-up
    for name, run in runs.items():
        t = time.perf_counter()
        run()
        seconds = time.perf_counter() - t
        out[name] = {"seconds": round(seconds, 2), "updates_per_s": round(a2c.updates / seconds, 1)}
    for name in ("fit_mixture_w0", "a_ialp_ap", "pretrain_learned_env"):
        out[f"{name}_vs_fit_a2c"] = round(out["fit_a2c"]["updates_per_s"] / out[name]["updates_per_s"], 2)
    return out


PARTS = {"labelling": labelling, "online": online}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--states", type=int, default=24)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--one", choices=list(PARTS))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--out", type=Path, default=Path("bench/out/ialp.json"))
    args = parser.parse_args()
    from recrl_core import results

    if args.one:
        results.measure_part(lambda: PARTS[args.one](args))
        return

    results.write_report({"benchmark": "iALP: LLM labelling throughput and the online loop's cost (Ch. 9)",
                          "model": args.model,
                          **{part: results.run_part(__file__, "--one", part, "--model", args.model,
                                                    "--states", str(args.states), "--updates", str(args.updates))
                             for part in args.parts.split(",")}}, args.out)


if __name__ == "__main__":
    main()
