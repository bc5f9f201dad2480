#!/usr/bin/env python
"""Benchmark: the Shielded RecRL explainer (Ch. 7) — explanation tokens/s, PPO cost, frozen trunk, PPO vs GRPO.

Four measurements, each in a fresh subprocess so that its peak RSS is its own:

1. ``generation``: explanation tokens/s for N Ch. 7 prompts (soft prompt on, rollout
   settings, 40 new tokens) generated one per call (the baseline) and batched.
2. ``ppo``: seconds for rollout collection and for the PPO update per rollout at the
   Ch. 7 book sizes (``ExplainerConfig.for_mode(book).ppo``: 32 prompts, 2 epochs) with the
   composite reward, with the ranker soft prompt and — the baseline, same run — without it.
3. ``ppo_frozen_trunk``: seconds per training explanation, end to end (rollout, scoring,
   reference, reward, PPO epochs), at the Ch. 7 book settings: the baseline path (LoRA on
   every layer, ``generate``, whole-model passes) and — same prompts, same sizes — LoRA on
   the top ``adapt_layers`` layers with rollouts and epochs on the frozen trunk; the
   one-off cost of the prompt trunks, amortised over a run, and rollout tokens/s of both.
4. ``ppo_vs_grpo``: our PPO and trl's GRPO on the same composite reward (text prompts:
   trl cannot feed a soft prompt), LoRA r 16, learning rate 5e-4, an equal budget of
   ``--updates`` x the book rollout size of sampled explanations: wall time per update and the ratio.

Prints JSON and writes ``bench/out/explainer.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_explainer.py [--updates 2] [--model smollm2-135m]``
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path


def _task(model_name: str, soft: bool, adapt_layers: int | None = None):
    """Model, tokenizer, prompts, contexts and composite reward for the Ch. 7 training users."""
    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.data import prepare
    from recrl_core.envs import grounded
    from recrl_core.llm import lora, models, soft_prompt
    from recrl_core.methods.shielded import explanation_reward, explanation_task
    from recrl_core.train import ppo_loop as loop

    d, mode = config.data_dir(), Mode.BOOK
    data = prepare.prepare(prepare.DataConfig.for_mode(mode, genres=explanation_task.GENRES), d)
    ranker = explanation_task.fit_ranker(data, mode)
    world = grounded.load_world(grounded.GroundedConfig.for_mode(mode), d)
    xcfg = explanation_task.ExplainerConfig.for_mode(mode)
    frame, hist = explanation_task.build_examples(data, ranker.model, world, d, xcfg)
    frame = frame[frame["split"] == "train"].reset_index(drop=True)
    lm, tok = models.load_lm(model_name)
    lora_cfg, split = lora.on_top_layers(lora.LoRAConfig(), lm.config.num_hidden_layers, adapt_layers)
    policy = loop.make_policy(lm, lora_cfg)
    contexts = explanation_task.contexts_for(ranker.model, hist, frame) if soft else None
    marker = ""
    if soft:
        marker = soft_prompt.add_soft_prompt(policy.lm, tok, contexts.shape[1], xcfg.soft_tokens, xcfg.adapter_hidden,
                                             layer=split).marker()
    prompts = explanation_task.prompts_for(frame, tok, marker)
    reward = explanation_reward.CompositeReward(explanation_reward.RewardConfig(), explanation_task.reward_contexts(frame, prompts), policy.lm, tok)
    return policy, tok, prompts, contexts, reward, xcfg


def _ppo_cfg(xcfg):
    """The chapter's PPO run in book mode (``xcfg`` is the book-mode ExplainerConfig)."""
    return xcfg.ppo


def generation_bench(model_name: str, n: int = 8) -> dict:
    from recrl_core.llm import generation
    from recrl_core.train import ppo_loop as loop

    policy, tok, prompts, ctx, _, xcfg = _task(model_name, soft=True)
    settings = loop.rollout_settings(_ppo_cfg(xcfg))
    out = {}
    for label, bs in (("unbatched", 1), ("batched", n)):
        generation.generate(policy.lm, tok, prompts[:2], settings, seed=0, batch_size=bs, context=ctx[:2])
        t = time.perf_counter()
        g = generation.generate(policy.lm, tok, prompts[:n], settings, seed=0, batch_size=bs, context=ctx[:n])
        s = time.perf_counter() - t
        out[label] = {"prompts": n, "new_tokens": int(g.response_mask.sum()), "wall_s": round(s, 2),
                      "tokens_per_s": round(float(g.response_mask.sum()) / s, 1)}
    out["speedup"] = round(out["batched"]["tokens_per_s"] / out["unbatched"]["tokens_per_s"], 2)
    return out


def ppo_bench(model_name: str, soft: bool, adapt_layers: int | None = None, rounds: int = 2) -> dict:
    """``rounds`` rollouts + PPO updates at the Ch. 7 book sizes, LoRA on every layer or on the top ``adapt_layers``.

    Before timing: MiniLM is loaded, the item/profile vectors exist and (frozen trunk) every
    training prompt's trunk is filled — its one-off cost is reported as ``prompt_trunks``.
    Rollout generation is also timed alone (tokens/s).
    """
    import numpy as np
    import torch

    from recrl_core.llm import generation, trunk_rollout
    from recrl_core.train import ppo_loop as loop

    policy, tok, prompts, ctx, reward, xcfg = _task(model_name, soft, adapt_layers)
    cfg = _ppo_cfg(xcfg)
    settings = loop.rollout_settings(cfg)
    reward(["warm-up"], prompts[:1])                       # MiniLM loaded and item/profile vectors, as in a run
    reward._vectors(prompts)
    rows_of = (lambda pick: None) if ctx is None else (lambda pick: ctx[torch.as_tensor(pick)])
    trunks, fill_s = None, 0.0
    if adapt_layers is not None:
        trunks = trunk_rollout.PromptTrunks(tok, policy.lm.config.num_hidden_layers - adapt_layers)
        t = time.perf_counter()
        trunks.batch(policy.lm, prompts)
        fill_s = time.perf_counter() - t
    first = list(range(cfg.rollout_batch))                 # rollout generation alone: tokens/s
    t = time.perf_counter()
    if trunks is None:
        sampled = generation.generate(policy.lm, tok, [prompts[j] for j in first], settings, seed=0,
                                      context=rows_of(first))
    else:
        sampled = trunk_rollout.generate(policy.lm, tok, [prompts[j] for j in first], trunks, settings, seed=0,
                                         context=rows_of(first)).batch
    gen_tokens_s = float(sampled.response_mask.sum()) / (time.perf_counter() - t)
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(rounds):
        pick = rng.choice(len(prompts), size=cfg.rollout_batch)
        t = time.perf_counter()
        roll = loop.collect(policy, tok, [prompts[j] for j in pick], reward, cfg, seed=i, contexts=rows_of(pick),
                            trunks=trunks)
        t_collect = time.perf_counter() - t
        t = time.perf_counter()
        loop.ppo_update(policy, opt, roll, cfg, cfg.kl_coef, rng)
        rows.append({"collect_s": t_collect, "update_s": time.perf_counter() - t,
                     "response_tokens": float(roll.batch.response_mask.sum())})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    per_expl = (mean["collect_s"] + mean["update_s"]) / cfg.rollout_batch
    return {"soft_prompt": soft, "adapt_layers": adapt_layers or "all", "rollout_batch": cfg.rollout_batch,
            "ppo_epochs": cfg.ppo_epochs, "rounds": rounds,
            "collect_s": round(mean["collect_s"], 2), "update_s": round(mean["update_s"], 2),
            "s_per_explanation": round(per_expl, 3),
            "s_per_1k_response_tokens": round(1000 * (mean["collect_s"] + mean["update_s"]) / mean["response_tokens"], 1),
            "generation_tokens_per_s": round(gen_tokens_s, 1),
            "prompt_trunks": {"prompts": len(prompts), "fill_s": round(fill_s, 1)}}


def frozen_trunk_bench(model_name: str, adapt_layers: int) -> dict:
    """Both paths in their own subprocesses, and the ratio per training explanation."""
    from recrl_core import results

    base = results.run_part(__file__, "--one", "ppo_all_layers", "--model", model_name)
    top = results.run_part(__file__, "--one", "ppo_top_layers", "--model", model_name,
                           "--adapt-layers", str(adapt_layers))
    run = 256                                              # explanations of a run, for the amortised fill
    amortised = top["s_per_explanation"] + top["prompt_trunks"]["fill_s"] / run
    return {"all_layers": base, "top_layers": top,
            "speedup_per_explanation": round(base["s_per_explanation"] / top["s_per_explanation"], 2),
            "generation_speedup": round(top["generation_tokens_per_s"] / base["generation_tokens_per_s"], 2),
            f"speedup_with_fill_over_{run}_explanations": round(base["s_per_explanation"] / amortised, 2)}


def ppo_vs_grpo_bench(model_name: str, updates: int) -> dict:
    from recrl_core.llm import lora, models, trl_route
    from recrl_core.train import ppo_loop as loop

    policy, tok, prompts, _, reward, xcfg = _task(model_name, soft=False)
    cfg = dataclasses.replace(_ppo_cfg(xcfg), updates=updates)
    t = time.perf_counter()
    hist = loop.fit_ppo(policy, tok, prompts, reward, cfg, progress=False)
    ppo_s = time.perf_counter() - t
    tcfg = trl_route.TRLConfig(steps=updates, prompts_per_step=cfg.rollout_batch // 4, num_generations=4,
                               lr=cfg.lr, max_new_tokens=cfg.max_new_tokens)
    with tempfile.TemporaryDirectory() as out:
        _, log, grpo_s = trl_route.train(models.model_path(model_name), tok, prompts,
                                         lambda completions, prompts, **_: reward(list(completions), list(prompts)),
                                         tcfg, lora.LoRAConfig(), Path(out))
    return {"explanations_each": updates * cfg.rollout_batch,
            "ppo": {"wall_s": round(ppo_s, 1), "s_per_update": round(ppo_s / updates, 2),
                    "reward_per_update": [round(h["objective/score"], 3) for h in hist]},
            "grpo": {"wall_s": round(grpo_s, 1), "s_per_update": round(grpo_s / updates, 2),
                     "reward_per_update": [round(r["reward"], 3) for r in log if "reward" in r]},
            "ppo_over_grpo_time": round(ppo_s / grpo_s, 2)}


PARTS = {"generation": lambda a: generation_bench(a.model),
         "ppo_soft_prompt": lambda a: ppo_bench(a.model, soft=True),
         "ppo_text_only": lambda a: ppo_bench(a.model, soft=False),
         "ppo_frozen_trunk": lambda a: frozen_trunk_bench(a.model, a.adapt_layers),
         "ppo_vs_grpo": lambda a: ppo_vs_grpo_bench(a.model, a.updates)}


SUBPARTS = {"ppo_all_layers": lambda a: ppo_bench(a.model, soft=True),
            "ppo_top_layers": lambda a: ppo_bench(a.model, soft=True, adapt_layers=a.adapt_layers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--updates", type=int, default=2)
    parser.add_argument("--one", choices=list(PARTS) + list(SUBPARTS))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--out", type=Path, default=Path("bench/out/explainer.json"))
    parser.add_argument("--adapt-layers", type=int, default=4)
    args = parser.parse_args()
    from recrl_core import results

    if args.one in SUBPARTS:
        results.measure_part(lambda: SUBPARTS[args.one](args))
        return
    if args.one:
        results.measure_part(lambda: PARTS[args.one](args))
        return

    results.write_report({"benchmark": "Shielded RecRL explainer: generation, PPO cost, PPO vs GRPO (Ch. 7)",
                          "model": args.model,
                          **{part: results.run_part(__file__, "--one", part, "--model", args.model,
                                                    "--updates", str(args.updates), "--adapt-layers",
                                                    str(args.adapt_layers))
                             for part in args.parts.split(",")}}, args.out)


if __name__ == "__main__":
    main()
