"""GRPO for a language model on the PPO engine: groups of replies, no value head, KL in the loss.

The loop of spec-grpo. Each round draws ``rollout_batch / group_size`` prompts (distinct where possible),
samples ``group_size`` replies to each with :func:`recrl_core.train.ppo_loop.collect`
(the same sampler, reference pass and frozen-trunk path as our PPO), standardises the
rewards within each group (:func:`recrl_core.rl.grpo.group_advantages`) and runs
``ppo_epochs`` passes of :func:`recrl_core.rl.grpo.grpo_loss` over shuffled minibatches
with PPO's gradient accumulation and norm clipping. Every size and setting comes from
:class:`recrl_core.rl.ppo.PPOConfig` (``kl_coef`` is β; the KL estimator of the loss is
always k3, as in the GRPO paper; ``gamma``, ``lam``, ``vf_coef``, ``value_clip_range``,
``kl_estimator`` and the adaptive-KL fields are PPO's alone and unused here), so PPO and
GRPO run on one config share sampler, trunk, optimizer and minibatches and differ in the
algorithm: group baseline against value head and GAE, KL in the loss against KL in the reward. trl's ``GRPOTrainer`` implements the same
algorithm (Ch. 5 runs it too); this one shares our PPO's frozen trunk, which trl cannot.

Taught in: sec-grpo-same-engine
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from recrl_core import distributed
from recrl_core.llm import trunk_rollout
from recrl_core.llm.logprobs import PolicyWithValue
from recrl_core.rl import advantages, grpo, kl, ppo
from recrl_core.train import ppo_loop


def pick_groups(rng: np.random.Generator, num_prompts: int, cfg: ppo.PPOConfig, group_size: int) -> np.ndarray:
    """Prompt indices of one round: ``rollout_batch / group_size`` prompts, each repeated ``group_size`` times.

    The prompts are distinct whenever there are at least as many as groups (drawn with replacement otherwise).
    """
    if cfg.rollout_batch % group_size:
        raise ValueError(f"group_size ({group_size}) must divide rollout_batch ({cfg.rollout_batch})")
    groups = cfg.rollout_batch // group_size
    picked = rng.choice(num_prompts, size=groups, replace=num_prompts < groups)         # (B/G,)
    return np.repeat(picked, group_size)                                                 # (B,) group-major


GRPO_STATS = ("losses/policy", "ppo/clipfrac", "ppo/approx_kl", "losses/kl", "policy/entropy")


def grpo_update(policy: PolicyWithValue, optimizer: torch.optim.Optimizer, roll: ppo_loop.Rollout,
                cfg: ppo.PPOConfig, group_size: int, rng: np.random.Generator,
                world: distributed.World | None = None) -> dict:
    """Group advantages from the rollout's scores, then ``ppo_epochs`` passes of the GRPO loss; returns stats.

    Under several processes each holds whole groups (its block, in rank order); minibatches and
    gradients are split as in ``ppo_loop.ppo_update``: the update one process makes on all rows.
    """
    w = world or distributed.World()
    sizes = distributed.gather(len(roll.batch), w)
    total_rows, first = sum(sizes), sum(sizes[:w.rank])
    adv = grpo.group_advantages(roll.scores, group_size)                                # (B,)
    logs: list[dict] = []
    params = [p for p in policy.parameters() if p.requires_grad]
    for _ in range(cfg.ppo_epochs):
        minibatches = ppo_loop.row_chunks(total_rows, cfg.minibatch_size)
        order = rng.permutation(total_rows)
        for i, idx in enumerate(minibatches):
            rows = ppo_loop.local_rows(order[idx], first, len(roll.batch))
            m = roll.batch.response_mask[rows]
            share, scale = ppo_loop.token_share(m, w)
            local = None
            if len(rows):
                sub = roll.batch.rows(rows)
                logp, _, entropy = policy(sub, cfg.temperature, cut=ppo_loop.trunk_rows(roll.trunk, rows))
                loss, stats = grpo.grpo_loss(logp, roll.logprobs[rows], roll.ref_logprobs[rows], adv[rows], m,
                                             cfg.clip_range, cfg.kl_coef)
                (loss * scale / cfg.grad_accum).backward()
                local = stats | {"policy/entropy": advantages.masked_mean(entropy.detach(), m)}
            logs.append(ppo_loop.merged_stats(local, GRPO_STATS, share, w))
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(minibatches):
                distributed.average_gradients(params, w)
                logs[-1]["ppo/grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    kl_t = kl.kl_k3(roll.logprobs, roll.ref_logprobs) * roll.batch.response_mask
    spread = roll.scores.view(-1, group_size).std(1)
    zero = distributed.all_sum(torch.stack([torch.isclose(spread, torch.zeros_like(spread)).double().sum(),
                                            torch.tensor(float(len(spread)), dtype=torch.float64)]), w)
    stats = ppo_loop.rollout_summary(roll, kl_t, cfg.kl_coef, logs, w)
    del stats["objective/non_score_reward"]                      # GRPO's KL is in the loss, not the reward
    return stats | {"grpo/frac_zero_std": float(zero[0] / zero[1])}                       # as trl logs it


def fit_grpo(policy: PolicyWithValue, tokenizer, prompts: Sequence[str], reward_fn: ppo_loop.RewardFn,
             cfg: ppo.PPOConfig, group_size: int = 4, progress: bool = True,
             trunks: trunk_rollout.PromptTrunks | None = None) -> list[dict]:
    """``cfg.updates`` rounds of group sampling + GRPO update; returns one dict of statistics per round.

    ``policy`` is a :class:`PolicyWithValue` so that PPO and GRPO share the sampler; its value
    head gets no gradient and is never read. ``trunks``: sample and train on the frozen trunk.
    Under ``accelerate launch`` every process samples its block of whole groups (seeded by the
    block's first row, as ``ppo_loop.fit_ppo`` does) and the update is the one-process update.
    """
    from recrl_core.progress import bar as progress_bar

    rng, w = np.random.default_rng(cfg.seed), distributed.world()
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    history: list[dict] = []
    for step in progress_bar(range(cfg.updates), desc="GRPO", show=progress and w.main):
        t0 = time.perf_counter()
        picked = pick_groups(rng, len(prompts), cfg, group_size)                       # (B,) group-major
        groups = distributed.shard(len(picked) // group_size, w)                       # whole groups per process
        rows = range(groups.start * group_size, groups.stop * group_size)
        chosen = [prompts[i] for i in picked[rows.start:rows.stop]]
        roll = ppo_loop.collect(policy, tokenizer, chosen, reward_fn, cfg,
                                seed=int(rng.integers(2**31)) + rows.start, trunks=trunks)
        stats = grpo_update(policy, optimizer, roll, cfg, group_size, rng, w)
        history.append(stats | {"step": step, "time/update_s": time.perf_counter() - t0,
                                "time/tokens": float(distributed.all_sum(roll.batch.response_mask.sum().double(), w))})
    return history
