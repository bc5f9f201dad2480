#!/usr/bin/env python
"""Benchmark: SmolLM2 generation, our PPO update, our PPO vs trl GRPO, and our GRPO vs trl's, on the Ch. 5 task.

Five measurements, each in a fresh subprocess so that its peak RSS is its own:

1. ``generation``: new tokens/s for N genre-task prompts generated one per call
   (the baseline) and all in one batched call, rollout settings, 32 new tokens.
2. ``ppo``: seconds for rollout collection (sample + score under policy and
   reference) and for the PPO update, per rollout of ``PPOConfig.for_mode(book)``
   (16 prompts, 2 epochs), reported per 1k response tokens and per 1k
   processed tokens (prompt + response).
3. ``ppo_vs_grpo``: the same reward, LoRA (r 16) and learning rate, and an equal
   budget of sampled completions (``--updates`` x 16): wall time per update and
   held-out reward (32 users, one seeded sample each) before and after.
4. ``grpo_whole_step`` / ``grpo_micro_4``: trl's GRPO at Ch. 5 book settings with a round's
   16 completions in one forward/backward (trl's default) or 4 at a time (``TRLConfig.micro_batch``):
   peak RSS and seconds per round, and their ratios (spec-trl explains the memory).
5. ``grpo_ours_trunk``: our GRPO (``train.grpo_loop``) at ``grpo_micro_4``'s settings, on the frozen trunk:
   seconds per round (the trunks of each round's new prompts included), against trl's ``grpo_micro_4``.

Prints JSON and writes ``bench/out/llm.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_llm.py [--updates 4] [--model smollm2-135m]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

NEW_TOKENS = 24          # the Ch. 5 task's reply budget
LR = 5e-4                # the Ch. 5 task's learning rate (LoRA)


def _task(tok, n_users: int, n_eval: int):
    from recrl_core import config
    from recrl_core.data import movielens
    from recrl_core.llm import genre_task

    d = config.data_dir()
    task = genre_task.build_genre_task(movielens.load_ratings(d), movielens.load_movies(d), tok, n_users)
    return task.split(n_eval)


def _eval(model, tok, ev, settings) -> float:
    from recrl_core.llm import generation

    g = generation.generate(model, tok, ev.prompts, settings, seed=123)
    return sum(ev.reward(g.texts, ev.prompts)) / len(ev.prompts)


def generation_bench(model_name: str, n: int = 8) -> dict:
    from recrl_core.llm import generation, models

    model, tok = models.load_lm(model_name)
    train, _ = _task(tok, n, 0)
    settings = dict(generation.GENERATION_DEFAULTS, max_new_tokens=32)
    out = {}
    for label, bs in (("unbatched", 1), ("batched", n)):
        generation.generate(model, tok, train.prompts[:2], settings, seed=0, batch_size=bs)   # warm-up
        t = time.perf_counter()
        g = generation.generate(model, tok, train.prompts, settings, seed=0, batch_size=bs)
        s = time.perf_counter() - t
        out[label] = {"prompts": n, "new_tokens": int(g.response_mask.sum()), "wall_s": round(s, 2),
                      "tokens_per_s": round(float(g.response_mask.sum()) / s, 1)}
    out["speedup"] = round(out["batched"]["tokens_per_s"] / out["unbatched"]["tokens_per_s"], 2)
    return out


def _ppo_cfg():
    from recrl_core.config import Mode
    from recrl_core.rl import ppo

    return dataclasses.replace(ppo.PPOConfig.for_mode(Mode.BOOK), lr=LR, max_new_tokens=NEW_TOKENS)


def ppo_bench(model_name: str, rounds: int = 2) -> dict:
    import numpy as np
    import torch

    from recrl_core.llm import lora, models
    from recrl_core.train import ppo_loop as loop

    model, tok = models.load_lm(model_name)
    cfg = _ppo_cfg()
    train, _ = _task(tok, cfg.rollout_batch, 0)
    policy = loop.make_policy(model, lora.LoRAConfig())
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    rows = []
    for i in range(rounds):
        t = time.perf_counter()
        roll = loop.collect(policy, tok, train.prompts, train.reward, cfg, seed=i)
        t_collect = time.perf_counter() - t
        t = time.perf_counter()
        loop.ppo_update(policy, opt, roll, cfg, cfg.kl_coef, np.random.default_rng(i))
        t_update = time.perf_counter() - t
        resp = float(roll.batch.response_mask.sum())
        total = resp + float(roll.batch.prompt_mask.sum())
        rows.append({"collect_s": t_collect, "update_s": t_update, "response_tokens": resp, "all_tokens": total})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return {"rollout_batch": cfg.rollout_batch, "ppo_epochs": cfg.ppo_epochs, "rounds": rounds,
            "collect_s": round(mean["collect_s"], 2), "update_s": round(mean["update_s"], 2),
            "update_s_per_1k_response_tokens": round(1000 * mean["update_s"] / mean["response_tokens"], 2),
            "update_s_per_1k_processed_tokens": round(1000 * mean["update_s"] / mean["all_tokens"], 2),
            "mean_prompt_plus_response_tokens_per_row": round(mean["all_tokens"] / cfg.rollout_batch, 1)}


def ppo_vs_grpo_bench(model_name: str, updates: int) -> dict:
    from recrl_core.llm import lora, models, trl_route
    from recrl_core.train import ppo_loop as loop

    model, tok = models.load_lm(model_name)
    cfg = dataclasses.replace(_ppo_cfg(), updates=updates)
    train, ev = _task(tok, 160, 32)
    settings = loop.rollout_settings(cfg)
    policy = loop.make_policy(model, lora.LoRAConfig())
    before = _eval(policy.lm, tok, ev, settings)
    t = time.perf_counter()
    loop.fit_ppo(policy, tok, train.prompts, train.reward, cfg, progress=False)
    ppo_s = time.perf_counter() - t
    ppo_after = _eval(policy.lm, tok, ev, settings)
    tcfg = trl_route.TRLConfig(steps=updates, prompts_per_step=cfg.rollout_batch // 4, num_generations=4,
                               lr=cfg.lr, max_new_tokens=NEW_TOKENS)
    with tempfile.TemporaryDirectory() as out:
        trainer, log, grpo_s = trl_route.train(models.model_path(model_name), tok, train.prompts,
                                               train.trl_reward, tcfg, lora.LoRAConfig(), Path(out))
    grpo_after = _eval(trainer.model, tok, ev, settings)
    completions = updates * cfg.rollout_batch
    return {"completions_each": completions, "eval_users": len(ev.prompts), "reward_before": round(before, 3),
            "ppo": {"wall_s": round(ppo_s, 1), "s_per_update": round(ppo_s / updates, 2),
                    "reward_after": round(ppo_after, 3)},
            "grpo": {"wall_s": round(grpo_s, 1), "s_per_update": round(grpo_s / updates, 2),
                     "reward_after": round(grpo_after, 3),
                     "train_reward_first_last": [log[0]["reward"], log[-1]["reward"]]},
            "ppo_over_grpo_time": round(ppo_s / grpo_s, 2)}


def grpo_step_bench(model_name: str, micro_batch: int, rounds: int = 2) -> dict:
    """trl's GRPO on the Ch. 5 task at book settings (4 prompts x 4 completions per round, LoRA r 16 on the
    top 4 layers); ``micro_batch`` completions per forward/backward. The part's peak RSS is the point."""
    from recrl_core.llm import lora, models, trl_route

    tok = models.load_tokenizer(model_name)
    train, _ = _task(tok, 160, 32)
    top, _ = lora.on_top_layers(lora.LoRAConfig(r=16, alpha=16), 30, 4)
    cfg = trl_route.TRLConfig(steps=rounds, prompts_per_step=4, num_generations=4, micro_batch=micro_batch,
                              lr=LR, max_new_tokens=NEW_TOKENS)
    with tempfile.TemporaryDirectory() as out:
        _, _, seconds = trl_route.train(models.model_path(model_name), tok, train.prompts, train.trl_reward,
                                        cfg, top, Path(out))
    return {"micro_batch": micro_batch, "completions_per_round": cfg.completions_per_step,
            "s_per_round": round(seconds / rounds, 2)}


def grpo_ours_bench(model_name: str, rounds: int = 2) -> dict:
    """Our GRPO at ``grpo_step_bench``'s settings (4 prompts x 4 replies, one epoch, one Adam step of 16 replies in
    micro-batches of 4, LoRA r 16 on the top 4 layers), sampling and training on the frozen trunk; the prompt
    trunks are filled as rounds need them (included in the time)."""
    from recrl_core.llm import lora, models, trunk_rollout
    from recrl_core.train import grpo_loop, ppo_loop

    model, tok = models.load_lm(model_name)
    train, _ = _task(tok, 160, 32)
    top, split = lora.on_top_layers(lora.LoRAConfig(r=16, alpha=16), model.config.num_hidden_layers, 4)
    cfg = dataclasses.replace(_ppo_cfg(), updates=rounds, ppo_epochs=1, minibatch_size=4, grad_accum=4)
    policy = ppo_loop.make_policy(model, top)
    t = time.perf_counter()
    grpo_loop.fit_grpo(policy, tok, train.prompts, train.reward, cfg, group_size=4, progress=False,
                       trunks=trunk_rollout.PromptTrunks(tok, split))
    return {"completions_per_round": cfg.rollout_batch, "ppo_epochs": cfg.ppo_epochs,
            "s_per_round": round((time.perf_counter() - t) / rounds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--one", choices=["generation", "ppo", "ppo_vs_grpo", "grpo_whole_step", "grpo_micro_4",
                                          "grpo_ours_trunk"])
    parser.add_argument("--out", type=Path, default=Path("bench/out/llm.json"))
    args = parser.parse_args()
    from recrl_core import results

    if args.one:
        fn = {"generation": lambda: generation_bench(args.model), "ppo": lambda: ppo_bench(args.model),
              "ppo_vs_grpo": lambda: ppo_vs_grpo_bench(args.model, args.updates),
              "grpo_whole_step": lambda: grpo_step_bench(args.model, 16),
              "grpo_micro_4": lambda: grpo_step_bench(args.model, 4),
              "grpo_ours_trunk": lambda: grpo_ours_bench(args.model)}[args.one]
        results.measure_part(fn)
        return

    parts = {part: results.run_part(__file__, "--one", part, "--model", args.model, "--updates", str(args.updates))
             for part in ("generation", "ppo", "ppo_vs_grpo", "grpo_whole_step", "grpo_micro_4", "grpo_ours_trunk")}
    whole, micro = parts["grpo_whole_step"], parts["grpo_micro_4"]
    results.write_report({"benchmark": "LLM: generation, PPO update, PPO vs GRPO, trl's peak memory (Ch. 5 genre task)",
                          "model": args.model, **parts,
                          "grpo_peak_rss_whole_over_micro": round(whole["peak_rss_mb"] / micro["peak_rss_mb"], 2),
                          "grpo_time_whole_over_micro": round(whole["s_per_round"] / micro["s_per_round"], 2),
                          "grpo_time_trl_over_ours": round(micro["s_per_round"] / parts["grpo_ours_trunk"]["s_per_round"], 2)},
                         args.out)


if __name__ == "__main__":
    main()
