"""One script, run either as one process (``python worker.py PART[,PART...] OUT``) or under
``accelerate launch --config_file accelerate/cpu_2_processes.yaml worker.py PART[,PART...] OUT``;
``test_two_processes.py`` compares them.

PART:
  step     three SQN-family updates (SQN, then SA2C with its negatives) on fixed global batches;
           writes the updated networks' weights and the logged losses
  fit      ``loops.fit_rl`` (SA2C) interrupted half-way and resumed from its checkpoint; writes the
           history and the selected weights
  le-pass  LEA's cached environment pass over a few users with a tiny random LM; the cache file is the output
  scores   the candidate-scoring pass of iALP's labels and LAAC's suggestions, through its output cache
  ppo-update  one PPO update on the same rollout, whole or split by rows
  grpo-update  one GRPO update on the same two groups, whole or one group per process
  trl      trl's GRPO route (its own Accelerator) for two rounds
  ppo-fit  fit_ppo straight and interrupted + resumed (compared within one launch)
  grid     a 2 seeds x 2 configs grid of small CE runs through ``distributed.run_grid``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from recrl_core.data import prepare, replay, synthetic, transitions
from recrl_core.eval import offline
from recrl_core.rl import double_q, sa2c, sqn
from recrl_core.seqrec import heads
from recrl_core import distributed
from recrl_core.train import grids, loops

ENC = heads.EncoderConfig(backbone="gru4rec", hidden_size=8)
EVAL = offline.EvalConfig(ks=(5, 10))


def data(num_users: int = 40):
    """Synthetic users through the book's own pipeline (k-core, global-time split, transitions)."""
    gen = synthetic.make_synthetic(num_users=num_users, num_items=30, events_per_user=(8, 14),
                                   rng=np.random.default_rng(0))
    prepared = prepare.prepare_events(gen.interactions, prepare.DataConfig(dataset="synthetic", min_core=2))
    trans = transitions.build_transitions(prepared.train, transitions.TransitionConfig(), prepared.encoded.pad_id)
    return prepared.encoded, replay.ReplayBuffer(trans), prepared.val


def pair(num_items: int, cfg, seed: int = 0) -> double_q.DoubleQPair:
    nets = []
    for s in (seed, seed + 1):
        torch.manual_seed(s)
        nets.append(heads.TwoHead(heads.build_encoder(ENC, num_items), num_items, ENC.state_len))
    return double_q.DoubleQPair(*nets, cfg.lr, getattr(cfg, "lr_2", None))


def weights(p: double_q.DoubleQPair) -> dict[str, torch.Tensor]:
    return {f"net{i}.{k}": v.detach().clone().contiguous() for i, net in enumerate(p.networks)
            for k, v in net.state_dict().items()}


def part_step(out: Path, w: distributed.World) -> None:
    enc, buffer, _ = data()
    logs = []
    for method, cfg in [("sqn", sqn.SQNConfig(batch_size=32)),
                        ("sa2c", sa2c.SA2CConfig(batch_size=32, warmup_steps=1, num_negatives=3))]:
        p, rng = pair(enc.num_items, cfg), np.random.default_rng(7)
        prob = torch.full((enc.num_items,), 1.0 / enc.num_items)
        for step in range(3):                  # SA2C: step 0 is warm-up, steps 1-2 use the second optimizer
            batch = buffer.sample(cfg.batch_size, np.random.default_rng(100 + step)).to_torch()
            parts, main_i = loops.rl_step(p, batch, method, cfg, step, rng, prob, world=w)
            logs.append({"method": method, "step": step, "main": main_i, **parts})
        if w.main:
            save_file(weights(p), str(out / f"{method}.safetensors"))
    if w.main:
        (out / "step.json").write_text(json.dumps(logs))


def part_fit(out: Path, w: distributed.World) -> None:
    enc, buffer, val = data()
    cfg = sa2c.SA2CConfig(batch_size=32, epochs=2, warmup_steps=3, eval_every=4, num_negatives=3)
    p, rng = pair(enc.num_items, cfg), np.random.default_rng(3)
    steps = loops.total_steps(len(buffer), cfg.batch_size, cfg.epochs)
    ckpt = out / "checkpoint"
    loops.fit_rl(p, "sa2c", buffer, val, cfg, EVAL, rng, checkpoint_dir=ckpt, stop_at_step=steps // 2)
    p2, rng2 = pair(enc.num_items, cfg, seed=50), np.random.default_rng(99)     # fresh objects: all state from disk
    result = loops.fit_rl(p2, "sa2c", buffer, val, cfg, EVAL, rng2, checkpoint_dir=ckpt)
    if w.main:
        result.history.to_json(out / "history.json", orient="records")
        save_file({k: v.contiguous() for k, v in result.best_state.items()}, str(out / "best.safetensors"))
        (out / "fit.json").write_text(json.dumps({"steps": steps, "best_step": result.best_step,
                                                  "best_metric": result.best_metric}))


def part_le_pass(out: Path, w: distributed.World) -> None:
    from recrl_core.llm import models
    from recrl_core.methods.lea import environment as envm
    from recrl_core.methods.lea import item_tokens as itok
    from recrl_core.methods.lea import offline_pass
    from recrl_core.methods.lea.lea_task import new_environment

    names = ["Oasis", "Blur", "Pulp", "Suede", "Radiohead", "Coldplay", "Muse", "Keane"]
    tok = models.load_tokenizer(models.SMOLLM2)
    lm = models.tiny_causal_lm("llama", vocab_size=len(tok), seed=0, tokenizer=tok)
    tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(names, ["an artist"] * len(names)),
                                   itok.ItemTokenConfig())
    env = new_environment(lm, tok, tokens, envm.LEConfig(state_dim=8, seed=0)).eval()
    rng = np.random.default_rng(0)
    lengths = [7, 5, 6, 4, 7, 6, 5]
    users = np.repeat(np.arange(len(lengths)), lengths)
    items = np.concatenate([rng.permutation(len(names))[:k] for k in lengths])
    cfg = offline_pass.PassConfig(candidates=3, random_candidates=1, aug_k_max=2, batch_size=2)
    res = offline_pass.cached_pass(env, users, items, cfg, context=3, cache_root=out / "cache")
    save_file({k: torch.as_tensor(getattr(res, k)) for k in offline_pass.FIELDS},
              str(out / f"returned-rank{w.rank}.safetensors"))


def part_scores(out: Path, w: distributed.World) -> None:
    """iALP's / LAAC's LLM pass: candidate sets scored through the shared output cache."""
    from recrl_core.llm import models, prompts
    from recrl_core.llm.cache import OutputCache
    from recrl_core.llm.candidates import cached_candidate_scores

    tok = models.load_tokenizer(models.SMOLLM2)
    lm = models.tiny_causal_lm("llama", vocab_size=len(tok), seed=0, tokenizer=tok)
    titles = ["Heat", "Heat and Dust", "Alien", "Aliens", "Brazil", "Fargo", "Up", "Big", "Jaws", "Rocky"]
    rng = np.random.default_rng(0)
    asks = [prompts.preference_prompt(tok, list(rng.choice(titles, size=k % 6, replace=False)), 3) for k in range(80)]
    sets = [list(rng.choice(titles, size=int(rng.integers(1, 8)), replace=False)) for _ in asks]
    found, scored = cached_candidate_scores(lm, tok, "tiny-llama", asks, sets, OutputCache("scores", out / "cache"))
    (out / f"returned-rank{w.rank}.json").write_text(json.dumps({"found": found, "scored": scored}))


def _ppo_setup():
    """A tiny random LM with LoRA and a value head, its tokenizer, prompts, a reward and a small config."""
    import dataclasses

    from recrl_core.config import Mode
    from recrl_core.llm import lora, models, prompts
    from recrl_core.rl import ppo
    from recrl_core.train import ppo_loop

    tok = models.load_tokenizer(models.SMOLLM2)
    policy = ppo_loop.make_policy(models.tiny_causal_lm(vocab_size=len(tok), tokenizer=tok), lora.LoRAConfig(r=4))
    cfg = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=6, lr=3e-3, rollout_batch=8,
                              minibatch_size=4, ppo_epochs=2)
    asks = [prompts.genre_prompt(tok, [t]) for t in ["Heat (1995)", "Up (2009)", "Jumanji (1995)", "Alien (1979)"]]
    return policy, tok, asks, (lambda texts, _p: [len(t) / 30 for t in texts]), cfg


def _trainable(policy) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone().contiguous() for n, p in policy.named_parameters() if p.requires_grad}


def part_ppo_update(out: Path, w: distributed.World) -> None:
    """One PPO update on the same 8-row rollout: all rows in one process, or a block in each."""
    from recrl_core.train import ppo_loop

    policy, tok, asks, reward, cfg = _ppo_setup()
    with distributed.alone():                         # every process builds the same whole rollout
        roll = ppo_loop.collect(policy, tok, asks * 2, reward, cfg, seed=7)
    mine = distributed.shard(len(roll.batch), w)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    stats = ppo_loop.ppo_update(policy, optimizer, roll.rows(np.arange(mine.start, mine.stop)), cfg, 0.05,
                                np.random.default_rng(0), w)
    save_file(_trainable(policy), str(out / f"ppo-rank{w.rank}.safetensors"))
    if w.main:
        (out / "ppo.json").write_text(json.dumps(stats))


def part_grpo_update(out: Path, w: distributed.World) -> None:
    """One GRPO update on the same 2 groups of 4 replies: all in one process, or one group in each."""
    from recrl_core.train import grpo_loop, ppo_loop

    policy, tok, asks, reward, cfg = _ppo_setup()
    with distributed.alone():
        roll = ppo_loop.collect(policy, tok, [asks[0]] * 4 + [asks[1]] * 4, reward, cfg, seed=3)
    groups = distributed.shard(2, w)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    stats = grpo_loop.grpo_update(policy, optimizer, roll.rows(np.arange(groups.start * 4, groups.stop * 4)), cfg, 4,
                                  np.random.default_rng(0), w)
    save_file(_trainable(policy), str(out / f"grpo-rank{w.rank}.safetensors"))
    if w.main:
        (out / "grpo.json").write_text(json.dumps(stats))


def part_ppo_fit(out: Path, w: distributed.World) -> None:
    """fit_ppo under this launch: 3 updates straight, and 2 + resume to 3 from the checkpoint."""
    import dataclasses

    from recrl_core.train import ppo_loop

    def run(updates, ckpt):
        policy, tok, asks, reward, cfg = _ppo_setup()
        history = ppo_loop.fit_ppo(policy, tok, asks, reward, dataclasses.replace(cfg, updates=updates),
                                   checkpoint_dir=ckpt, progress=False)
        return [{k: v for k, v in h.items() if not k.startswith("time/update")} for h in history], policy

    straight, p1 = run(3, None)
    run(2, out / "ckpt")
    resumed, p2 = run(3, out / "ckpt")
    save_file(_trainable(p1), str(out / f"straight-rank{w.rank}.safetensors"))
    save_file(_trainable(p2), str(out / f"resumed-rank{w.rank}.safetensors"))
    if w.main:
        (out / "ppo_fit.json").write_text(json.dumps({"straight": straight, "resumed": resumed}))


def part_trl(out: Path, w: distributed.World) -> None:
    """trl's GRPO route under this launch: 2 rounds of 4 completions, LoRA on a tiny LM."""
    import dataclasses

    from recrl_core.config import Mode
    from recrl_core.llm import lora, models, prompts, trl_route

    tok = models.load_tokenizer(models.SMOLLM2)
    model_dir = out / "model"
    if w.main:
        models.tiny_causal_lm("llama", vocab_size=len(tok), seed=0, tokenizer=tok).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    distributed.barrier(w)
    cfg = dataclasses.replace(trl_route.TRLConfig.for_mode(Mode.SMOKE), max_new_tokens=4, num_generations=2,
                              prompts_per_step=2, epochs=1, micro_batch=1)
    asks = [prompts.genre_prompt(tok, [t]) for t in ["Heat (1995)", "Up (2009)"]]
    seen = []

    def reward(completions, prompts, **_):
        seen.append(len(completions))
        return [float(len(c)) for c in completions]

    trainer, log, _ = trl_route.train(model_dir, tok, asks, reward, cfg, lora.LoRAConfig(r=4), out / "trl-out")
    weights = {n: p.detach().clone().contiguous() for n, p in trainer.model.named_parameters() if p.requires_grad}
    save_file(weights, str(out / f"trl-rank{w.rank}.safetensors"))
    (out / f"trl-rank{w.rank}.json").write_text(json.dumps({"rounds": len(log), "seen": seen,
                                                            "completions_per_step": cfg.completions_per_step}))


def grid_job(job: dict) -> dict:
    """One CE run of the grid: seed x learning rate; its test-free validation metric and final loss."""
    enc, buffer, val = data(num_users=24)
    torch.manual_seed(job["seed"])
    model = heads.TwoHead(heads.build_encoder(ENC, enc.num_items), enc.num_items, ENC.state_len)
    cfg = loops.SupervisedConfig(lr=job["lr"], batch_size=16, epochs=1, eval_every=5)
    res = loops.fit_supervised(model, buffer, val, cfg, EVAL, np.random.default_rng(job["seed"]))
    return {**job, "best_metric": res.best_metric, "final_loss": float(res.history["loss"].dropna().iloc[-1])}


GRID = [{"seed": s, "lr": lr} for s in (0, 1) for lr in (0.01, 0.003)]


def part_grid(out: Path, w: distributed.World) -> None:
    names = [f"seed{j['seed']}-lr{j['lr']}" for j in GRID]
    rows = grids.run_grid(grid_job, GRID, names, out / "runs", w)
    if w.main:
        (out / "grid.json").write_text(json.dumps(rows, sort_keys=True))


def main() -> None:
    parts, out = sys.argv[1].split(","), Path(sys.argv[2])        # several parts share one launch
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    w = distributed.world()
    for part in parts:
        {"step": part_step, "fit": part_fit, "le-pass": part_le_pass, "scores": part_scores,
         "ppo-update": part_ppo_update, "grpo-update": part_grpo_update, "ppo-fit": part_ppo_fit,
         "trl": part_trl, "grid": part_grid}[part](out, w)
    if w.main:
        (out / "world.json").write_text(json.dumps({"size": w.size}))
    distributed.barrier(w)


if __name__ == "__main__":
    main()
