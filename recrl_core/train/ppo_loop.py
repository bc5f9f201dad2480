"""Token-level PPO for a language model: rollout -> per-token rewards -> GAE -> epochs.

The loop of spec-shielded-ppo around the pure losses of :mod:`recrl_core.rl.ppo`:
sample with the policy (adapter on), score the same tokens with the policy and
the reference (adapter off), add the sequence reward at the last token minus
β·KL on every token, estimate advantages with GAE, then run ``ppo_epochs``
passes of clipped policy + value loss over shuffled minibatches with gradient
accumulation and norm clipping. Reward functions are plain Python callables
``reward_fn(texts, prompts) -> list[float]``. Imports transformers (through
:mod:`recrl_core.llm`); used only by the LLM chapters.

With LoRA on the top layers only, pass ``trunks`` (:class:`recrl_core.llm.trunk_rollout.PromptTrunks`):
rollouts then run on the frozen trunk, and scoring, reference and every epoch run only
the adapted layers on the rollout's trunk (spec-shielded-trunk). The losses are the same.
Under ``accelerate launch`` each process samples and trains on its block of a round's replies;
the update equals the one-process update on all of them (spec-scaling-out).
:func:`sample_replies` is the evaluation sampler: the same sampling and scoring for any
LoRA LM without a value head, ours or one trained by trl.

Taught in: sec-ppo-from-scratch
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from recrl_core import distributed
from recrl_core.llm import generation, lora, trunk_rollout
from recrl_core.llm.logprobs import PolicyWithValue, token_logprobs
from recrl_core.llm.trunk import Trunk
from recrl_core.rl import advantages, kl, ppo
from recrl_core.train import checkpoint

RewardFn = Callable[[list[str], list[str]], Sequence[float]]


@dataclass
class Rollout:
    """One batch of experience; every tensor is (B, T) over response tokens unless noted."""
    batch: generation.Generated
    prompts: list[str]
    logprobs: torch.Tensor        # log π_old(y_t), at sampling temperature
    ref_logprobs: torch.Tensor    # log π_ref(y_t), adapter off
    values: torch.Tensor          # V_old(t)
    scores: torch.Tensor          # (B,) R(x, y)
    trunk: Trunk | None = None    # frozen trunk of prompt + response (B, P+T, d), if rolled out on one

    def rows(self, index) -> "Rollout":
        """The rollout of rows ``index`` (e.g. one process's block of a round)."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return Rollout(self.batch.rows(idx), [self.prompts[i] for i in idx.tolist()], self.logprobs[idx],
                       self.ref_logprobs[idx], self.values[idx], self.scores[idx], trunk_rows(self.trunk, idx))


def rollout_settings(cfg: ppo.PPOConfig) -> dict:
    """Generation settings of RL rollouts from the config (spec-generation-defaults)."""
    return generation.GENERATION_DEFAULTS | dict(temperature=cfg.temperature, top_p=cfg.top_p,
                                                 max_new_tokens=cfg.max_new_tokens)


@torch.no_grad()
def sample(policy: PolicyWithValue, tokenizer, prompts: list[str], cfg: ppo.PPOConfig, seed: int,
           contexts: torch.Tensor | None = None, trunks: trunk_rollout.PromptTrunks | None = None,
           chunk: int | None = None):
    """Sample one reply per prompt and score it: ``(batch, trunk, log π_old, log π_ref, V_old)``.

    ``contexts`` (B, C), one row per prompt, feed a soft prompt (``llm.soft_prompt``);
    the reference pass runs with adapter and soft prompt off. With ``trunks`` the
    rollout runs on the frozen trunk (returned; None otherwise): log π_old and V_old come
    from sampling itself, and the reference pass runs only the adapted layers. Scoring
    passes take ``chunk`` rows at a time (default: ``cfg.minibatch_size``). Tensors are (B, T).
    """
    policy.eval()
    chunks = row_chunks(len(prompts), chunk or cfg.minibatch_size)
    if trunks is None:
        cut = None
        batch = generation.generate(policy.lm, tokenizer, prompts, rollout_settings(cfg), seed=seed,
                                    context=contexts)
        parts = [policy(batch.rows(idx), cfg.temperature) for idx in chunks]
        logp, values = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    else:                                   # sampling already gave log π_old and the value head's states
        sampled = trunk_rollout.generate(policy.lm, tokenizer, prompts, trunks, rollout_settings(cfg),
                                         seed=seed, context=contexts)
        batch, cut, logp = sampled.batch, sampled.trunk, sampled.logprobs
        values = policy.values(sampled.states, batch.response_mask)
    return batch, cut, logp, _reference(policy.lm, batch, cut, chunks, cfg.temperature), values


def _reference(lm, batch: generation.Generated, cut: Trunk | None, chunks, temperature: float) -> torch.Tensor:
    """log π_ref of the batch's reply tokens, adapter (and soft prompt) off, ``chunks`` rows at a time."""
    with lora.reference_mode(lm):
        return torch.cat([token_logprobs(lm, batch.rows(idx), temperature, cut=trunk_rows(cut, idx)) for idx in chunks])


@dataclass
class Replies:
    """One reply per prompt, scored: right-padded (N, T) tensors over reply tokens, 0 on padding."""
    texts: list[str]
    logprobs: torch.Tensor        # log π(y_t) at the sampling temperature
    ref_logprobs: torch.Tensor    # log π_ref(y_t), adapter (and soft prompt) off
    mask: torch.Tensor            # 1 on reply tokens up to and including the first EOS


def _pad_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    width = max(p.shape[1] for p in parts)
    return torch.cat([torch.nn.functional.pad(p, (0, width - p.shape[1])) for p in parts])


@torch.no_grad()
def sample_replies(lm, tokenizer, prompts: Sequence[str], cfg: ppo.PPOConfig, seed: int,
                   trunks: trunk_rollout.PromptTrunks | None = None, contexts: torch.Tensor | None = None,
                   chunk: int = 32) -> Replies:
    """One seeded reply per prompt from a LoRA LM, no value head needed: the evaluation sampler.

    The same sampling and scoring as :func:`sample`, for any adapter (ours, or one trained
    by trl): prompts ``chunk`` at a time, the chunk starting at prompt s sampled with ``seed + s``,
    so a chunk's replies do not depend on the chunks before or after it.
    """
    lm.eval()
    texts, logps, refs, masks = [], [], [], []
    for s in range(0, len(prompts), chunk):
        ps, ctx = list(prompts[s:s + chunk]), None if contexts is None else contexts[s:s + chunk]
        if trunks is None:
            batch = generation.generate(lm, tokenizer, ps, rollout_settings(cfg), seed=seed + s, context=ctx)
            cut, logp = None, token_logprobs(lm, batch, cfg.temperature)
        else:
            sampled = trunk_rollout.generate(lm, tokenizer, ps, trunks, rollout_settings(cfg), seed=seed + s,
                                             context=ctx)
            batch, cut, logp = sampled.batch, sampled.trunk, sampled.logprobs
        texts += batch.texts
        logps.append(logp)
        refs.append(_reference(lm, batch, cut, [np.arange(len(ps))], cfg.temperature))
        masks.append(batch.response_mask)
    return Replies(texts, _pad_cat(logps), _pad_cat(refs), _pad_cat(masks))


def collect(policy: PolicyWithValue, tokenizer, prompts: list[str], reward_fn: RewardFn,
            cfg: ppo.PPOConfig, seed: int, contexts: torch.Tensor | None = None,
            trunks: trunk_rollout.PromptTrunks | None = None) -> Rollout:
    """:func:`sample`, then the sequence rewards ``reward_fn(texts, prompts)``."""
    batch, cut, logp, ref, values = sample(policy, tokenizer, prompts, cfg, seed, contexts, trunks)
    scores = torch.as_tensor(list(reward_fn(batch.texts, prompts)), dtype=torch.float32)
    return Rollout(batch, prompts, logp, ref, values, scores.to(logp.device), cut)


def trunk_rows(cut: Trunk | None, idx) -> Trunk | None:
    """Rows ``idx`` of a rollout's frozen trunk (None without one)."""
    return None if cut is None else cut.rows(idx)


def row_chunks(n: int, size: int) -> list[np.ndarray]:
    """``[0, n)`` cut into consecutive index arrays of at most ``size`` rows."""
    return [np.arange(s, min(s + size, n)) for s in range(0, n, size)]


def ppo_update(policy: PolicyWithValue, optimizer: torch.optim.Optimizer, roll: Rollout,
               cfg: ppo.PPOConfig, kl_coef: float, rng: np.random.Generator,
               world: distributed.World | None = None) -> dict:
    """Advantages from the rollout, then ``ppo_epochs`` clipped-PPO passes; returns stats.

    Under several processes (``world``) each holds its block of the round's rows, in rank
    order: whitening statistics are summed over processes, every process draws the same
    minibatches of global rows and computes the loss on those it holds, weighted by its
    share of the minibatch's reply tokens, and gradients are averaged before each step —
    the update one process makes on all rows (spec-scaling-out).
    """
    w = world or distributed.World()
    sizes = distributed.gather(len(roll.batch), w)                 # rows per process, rank order
    total_rows, first = sum(sizes), sum(sizes[:w.rank])
    mask = roll.batch.response_mask
    rewards, kl_t = ppo.per_token_rewards(roll.scores, roll.logprobs, roll.ref_logprobs, mask,
                                          kl_coef, cfg.kl_estimator)
    adv, returns = advantages.gae(rewards, roll.values, mask, cfg.gamma, cfg.lam)
    adv = advantages.whiten(adv, mask, total=None if w.size == 1 else lambda t: distributed.all_sum(t, w))
    logs: list[dict] = []
    params = [p for p in policy.parameters() if p.requires_grad]
    for _ in range(cfg.ppo_epochs):
        minibatches = row_chunks(total_rows, cfg.minibatch_size)
        order = rng.permutation(total_rows)
        for i, idx in enumerate(minibatches):
            rows = order[idx]
            logs.append(_minibatch_step(policy, roll, local_rows(rows, first, len(roll.batch)), adv, returns, cfg, w))
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(minibatches):
                distributed.average_gradients(params, w)
                logs[-1]["ppo/grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
    return rollout_summary(roll, kl_t, kl_coef, logs, w)


def _minibatch_step(policy, roll: Rollout, rows: torch.Tensor, adv, returns, cfg,
                    w: distributed.World | None = None) -> dict:
    """Backpropagate this process's part of a minibatch's loss; returns the minibatch's stats.

    Losses and stats are token means. A process holding ``n`` of the minibatch's ``N`` reply
    tokens weights them by ``n / N`` (times the process count, which the gradient average
    divides out), so the averaged gradient and the summed stats are the whole minibatch's.
    """
    w = w or distributed.World()
    m = roll.batch.response_mask[rows]
    share, scale = token_share(m, w)
    local = None
    if len(rows):
        sub = roll.batch.rows(rows)
        logp, values, entropy = policy(sub, cfg.temperature, cut=trunk_rows(roll.trunk, rows))
        loss_pi, s_pi = ppo.clipped_policy_loss(logp, roll.logprobs[rows], adv[rows], m, cfg.clip_range)
        loss_v, s_v = ppo.value_loss(values, roll.values[rows], returns[rows], m, cfg.value_clip_range)
        ((loss_pi + cfg.vf_coef * loss_v) * scale / cfg.grad_accum).backward()
        local = s_pi | s_v | {"policy/entropy": advantages.masked_mean(entropy.detach(), m)}
    return merged_stats(local, PPO_STATS, share, w)


PPO_STATS = ("losses/policy", "ppo/clipfrac", "ppo/approx_kl", "losses/value", "ppo/value_clipfrac", "policy/entropy")


def local_rows(rows: np.ndarray, first: int, count: int) -> torch.Tensor:
    """The rows of a minibatch of global row ids held here (``first .. first+count-1``), as local ids."""
    return torch.as_tensor(rows[(rows >= first) & (rows < first + count)] - first)


def token_share(mask: torch.Tensor, w: distributed.World) -> tuple[torch.Tensor, float | torch.Tensor]:
    """``(share, scale)``: this process's share n/N of a minibatch's reply tokens, and the factor on its
    token-mean loss (``share × processes``; the gradient average divides the count out; 1 alone)."""
    n = mask.sum()
    share = n / distributed.all_sum(n.clone(), w)
    return share, (1.0 if w.size == 1 else share * w.size)


def merged_stats(local: dict | None, names: Sequence[str], share: torch.Tensor, w: distributed.World) -> dict:
    """The minibatch's token-mean stats: this process's (None: no rows here) weighted by its share, summed."""
    parts = (torch.zeros(len(names), dtype=torch.float64) if local is None
             else torch.stack([torch.as_tensor(local[k], dtype=torch.float64) for k in names]))
    if w.size > 1:
        parts = distributed.all_sum(parts * share.double(), w)
    return dict(zip(names, parts.tolist()))


def rollout_summary(roll: Rollout, kl_t, kl_coef: float, logs: list[dict],
                    w: distributed.World | None = None) -> dict:
    """The logged statistics of one update: the minibatch stats averaged, plus the rollout's score, KL,
    length (means over the rows of every process)."""
    w = w or distributed.World()
    mask = roll.batch.response_mask
    k1 = kl.kl_k1(roll.logprobs, roll.ref_logprobs) * mask
    k3 = kl.kl_k3(roll.logprobs, roll.ref_logprobs) * mask
    out = {key: float(np.mean([log[key] for log in logs if key in log])) for key in logs[0]}
    out["ppo/grad_norm"] = float(np.mean([log["ppo/grad_norm"] for log in logs if "ppo/grad_norm" in log]))
    per_row = {"objective/score": roll.scores, "objective/kl": k1.sum(1), "objective/kl_k3": k3.sum(1),
               "objective/non_score_reward": (-kl_coef * kl_t).sum(1), "objective/logprob": roll.logprobs.sum(1),
               "response/length": mask.sum(1)}
    if w.size == 1:
        means = [float(v.mean()) for v in per_row.values()]
    else:                                             # sums and row counts over every process's rows
        sums = torch.stack([v.double().sum() for v in per_row.values()]
                           + [torch.tensor(len(roll.scores), dtype=torch.float64)])
        sums = distributed.all_sum(sums, w)
        means = (sums[:-1] / sums[-1]).tolist()
    summary = dict(zip(per_row, means))
    return out | {k: summary[k] for k in ("objective/score", "objective/kl", "objective/kl_k3",
                                          "objective/non_score_reward")} | {"objective/kl_coef": kl_coef} | {
        k: summary[k] for k in ("objective/logprob", "response/length")}


def make_policy(lm, lora_cfg: lora.LoRAConfig, seed: int = 0) -> PolicyWithValue:
    """LoRA on ``lm`` plus a zero-initialised value head; only those require grad."""
    return PolicyWithValue(lora.add_lora(lm, lora_cfg, seed=seed))


class _Trainable:
    """Only the trainable tensors of a policy, for checkpoints (the base LM is never copied)."""

    def __init__(self, policy: torch.nn.Module):
        self.policy = policy

    def state_dict(self) -> dict:
        return {n: p.detach() for n, p in self.policy.named_parameters() if p.requires_grad}

    def load_state_dict(self, weights: dict) -> None:
        params = dict(self.policy.named_parameters())
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(value)


def fit_ppo(policy: PolicyWithValue, tokenizer, prompts: Sequence[str], reward_fn: RewardFn,
            cfg: ppo.PPOConfig, checkpoint_dir: Path | None = None,
            progress: bool = True, contexts: torch.Tensor | None = None,
            callback: Callable[[int, Rollout], dict] | None = None,
            trunks: trunk_rollout.PromptTrunks | None = None) -> list[dict]:
    """``cfg.updates`` rounds of rollout + PPO update on prompts drawn (seeded) from ``prompts``.

    ``contexts`` (len(prompts), C) are the soft-prompt contexts of the prompts, if the
    policy has a soft prompt. ``callback(step, rollout)`` may return extra statistics
    to log for the update (e.g. a simulated CTR of the rollout's explanations).
    ``trunks``: roll out and train on the frozen trunk (LoRA on the top layers only).

    With ``checkpoint_dir`` the trainable weights, optimizer, KL coefficient, both
    RNGs and the history are saved after every update, and a run resumes exactly.
    Under ``accelerate launch`` every process samples replies for its block of each round's
    prompts and the update is the one-process update on all of them (:func:`ppo_update`);
    ``reward_fn`` and ``callback`` see this process's rows, and the main process writes checkpoints.
    Returns the history: one dict of logged statistics per update.
    """
    from recrl_core.progress import bar as progress_bar

    rng, w = np.random.default_rng(cfg.seed), distributed.world()
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    kl_ctl = ppo.AdaptiveKL(cfg.kl_coef, cfg.kl_target, cfg.kl_horizon) if cfg.adaptive_kl \
        else ppo.FixedKL(cfg.kl_coef)
    history: list[dict] = []
    if checkpoint_dir is not None and Path(checkpoint_dir).exists():
        state = checkpoint.load(checkpoint_dir, models={"policy": _Trainable(policy)},
                                optimizers={"adam": optimizer}, rng=rng)
        history = state["history"]
        kl_ctl.value = history[-1]["next/kl_coef"] if history else kl_ctl.value
    for step in progress_bar(range(len(history), cfg.updates), desc="PPO", show=progress and w.main):
        t0 = time.perf_counter()
        picked = rng.choice(len(prompts), size=cfg.rollout_batch, replace=True)
        mine = distributed.shard(cfg.rollout_batch, w)           # all rows under one process
        picked_mine = picked[mine.start:mine.stop]
        chosen = [prompts[i] for i in picked_mine]
        rows = None if contexts is None else contexts[torch.as_tensor(picked_mine)]
        seed = int(rng.integers(2**31))                          # the block starting at row s samples with seed + s
        roll = collect(policy, tokenizer, chosen, reward_fn, cfg, seed=seed + mine.start,
                       contexts=rows, trunks=trunks)
        stats = ppo_update(policy, optimizer, roll, cfg, kl_ctl.value, rng, w)
        if callback is not None:
            stats |= callback(step, roll)
        kl_ctl.update(stats["objective/kl"], cfg.rollout_batch)
        tokens = float(distributed.all_sum(roll.batch.response_mask.sum().double(), w))
        history.append(stats | {"step": step, "next/kl_coef": kl_ctl.value,
                                "time/update_s": time.perf_counter() - t0, "time/tokens": tokens})
        if checkpoint_dir is not None:
            if w.main:
                checkpoint.save(checkpoint_dir, models={"policy": _Trainable(policy)},
                                optimizers={"adam": optimizer}, rng=rng, step=step + 1,
                                config=asdict(cfg), history=history)
            distributed.barrier(w)
    return history
