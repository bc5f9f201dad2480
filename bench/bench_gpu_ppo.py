#!/usr/bin/env python
"""Benchmark (GPU): one PPO rollout + update at full-mode sizes, for two model shapes.

Random-initialised models built from configs — SmolLM2-135M's own config and a
Qwen2.5-0.5B-shaped Llama (hidden 896, 24 layers, 14/2 heads, vocabulary of
SmolLM2's tokenizer) — so that no weights need downloading; speed depends on the
shapes, not on the weight values. ``PPOConfig()`` full defaults (32 prompts, 4
epochs, minibatch 4 × grad-accum 2, 40 new tokens), LoRA r 16 on q/k/v/o,
precision from ``pick_dtype``. Reports seconds for collection and update, tokens
per second and peak GPU memory; the CPU fp32 time of the same update for the
135M shape is the baseline when ``--cpu-baseline`` is given.

Prints JSON and writes ``bench/out/gpu_ppo.json``.
"""

from __future__ import annotations

import argparse
import time


def measure(shape: str, device: str, rounds: int) -> dict:
    import numpy as np
    import torch
    from transformers import AutoConfig, LlamaConfig, LlamaForCausalLM

    from recrl_core.llm import lora, models, prompts
    from recrl_core.rl import ppo
    from recrl_core.train import ppo_loop as loop

    tok = models.load_tokenizer(models.SMOLLM2)
    if shape == "smollm2-135m":
        cfg_lm = AutoConfig.from_pretrained(models.tokenizer_path(models.SMOLLM2))
    else:
        cfg_lm = LlamaConfig(vocab_size=len(tok), hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                             num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True,
                             bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    dtype = models.pick_dtype(device)
    model = LlamaForCausalLM(cfg_lm).to(device=device, dtype=dtype).eval()
    cfg = ppo.PPOConfig()
    titles = ["Heat (1995) [Action, Crime, Thriller]", "Toy Story (1995) [Adventure, Animation, Children]",
              "Amelie (2001) [Comedy, Romance]", "Alien (1979) [Horror, Sci-Fi]", "Fargo (1996) [Comedy, Crime]"]
    ps = [prompts.genre_prompt(tok, titles[i % 5:] + titles[:i % 5]) for i in range(cfg.rollout_batch)]
    policy = loop.make_policy(model, lora.LoRAConfig())
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rows = []
    for i in range(rounds):
        t = time.perf_counter()
        roll = loop.collect(policy, tok, ps, lambda texts, _: [len(x) / 100 for x in texts], cfg, seed=i)
        t_col = time.perf_counter() - t
        t = time.perf_counter()
        loop.ppo_update(policy, opt, roll, cfg, cfg.kl_coef, np.random.default_rng(i))
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append((t_col, time.perf_counter() - t, float(roll.batch.response_mask.sum()),
                     float(roll.batch.response_mask.sum() + roll.batch.prompt_mask.sum())))
    col, upd, resp, total = (float(np.mean([r[k] for r in rows[1:] or rows])) for k in range(4))
    out = {"shape": shape, "device": device, "dtype": str(dtype), "params": models.parameter_count(model),
           "rollout_batch": cfg.rollout_batch, "ppo_epochs": cfg.ppo_epochs, "collect_s": round(col, 2),
           "update_s": round(upd, 2), "response_tokens": resp,
           "update_processed_tokens_per_s": round(cfg.ppo_epochs * total / upd, 1),
           "generated_tokens_per_s": round(resp / col, 1)}
    if device == "cuda":
        out["peak_gpu_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu-baseline", action="store_true")
    parser.add_argument("--out", default="bench/out/gpu_ppo.json")
    args = parser.parse_args()
    import torch

    runs = []
    if torch.cuda.is_available():
        runs += [measure(s, "cuda", args.rounds) for s in ("smollm2-135m", "qwen2.5-0.5b-shape")]
    if args.cpu_baseline:                     # minutes on a 2-core CPU: only on request
        runs.append(measure("smollm2-135m", "cpu", 1))
    if not runs:
        print('{"skipped": "no CUDA GPU; pass --cpu-baseline to time the CPU"}')
        return
    from recrl_core import results

    results.write_report({"benchmark": "PPO rollout + update at full-mode sizes", "runs": runs}, args.out)


if __name__ == "__main__":
    main()
