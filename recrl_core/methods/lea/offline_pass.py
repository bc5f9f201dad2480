"""The offline environment pass: LE states, LE rewards and augmented actions for every transition.

Stage 3 of LEA (spec-lea-pipeline). Each training user's sequence is cut into the
LE's chunks; for the item at position ``p``:

1. one causal pass gives ``s^LE_p`` (before ``p``) and ``r^LE`` of the logged item;
2. candidates ``C_p`` = the ``M - R`` items with the highest ``⟨s^LE_p, u(a)⟩`` plus
   ``R`` random ones, never the logged item and (``exclude_history``) never an item
   of the user's history;
3. a second pass scores every candidate as a branch token (reward prompt = history
   + candidate); ``A_aug`` = the ``aug_k_max`` best candidates by ``r^LE``.

Results are arrays aligned with the training frame's rows (= the transitions),
cached as one safetensors file keyed by the LE's learned weights, the pass
config and the sequences (atomic write; a re-run loads it without any LM call).

The chunks are grouped into fixed batches, and each batch draws its random candidates
from its own stream (:func:`batch_generator`), so under ``accelerate launch`` the
processes can split the batches (``recrl_core.distributed``, spec-scaling-out) and merge
into exactly the arrays, and the cache file, of one process.

Taught in: sec-lea-grid
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from recrl_core.caching import TensorCache, array_digest, make_key, tensor_digest
from recrl_core.config import Mode
from recrl_core.methods.lea.environment import LEnvironment, chunk_tree, chunks_of
from recrl_core import distributed

FIELDS = ("le_state", "le_reward", "aug_actions", "aug_reward", "candidate_reward", "item_vectors")


@dataclass(frozen=True)
class PassConfig:
    candidates: int = 50          # M candidates scored by the reward model per state (Proposed)
    random_candidates: int = 10   # R of them drawn at random, the rest from the state model (Proposed)
    aug_k_max: int = 2            # augmented actions stored per transition (Proposed: K_aug 1-2)
    exclude_history: bool = True  # candidates never include the user's history
    batch_size: int = 8           # chunks per forward pass
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("candidates", "random_candidates", "batch_size")

    @classmethod
    def for_mode(cls, mode: Mode) -> "PassConfig":
        # book: 4 candidates (3 + 1 random) keep the pass at ~9 LM tokens per transition
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(candidates=4, random_candidates=1),
                 Mode.SMOKE: dict(candidates=4, random_candidates=1, batch_size=4)}[mode]
        return replace(cls(), **sizes)


@dataclass
class LEPass:
    """Per transition (E rows): ``le_state`` (E, D), ``le_reward`` (E,), ``aug_actions`` (E, K) int64,
    ``aug_reward`` (E, K), ``candidate_reward`` (E,) mean r^LE of the candidates; ``item_vectors`` (N, D)."""

    le_state: np.ndarray
    le_reward: np.ndarray
    aug_actions: np.ndarray
    aug_reward: np.ndarray
    candidate_reward: np.ndarray
    item_vectors: np.ndarray
    seconds: float = 0.0
    cached: bool = False
    lm_tokens: int = 0            # tokens the LM processed (0 on a cache hit)


def learned_state(env: LEnvironment) -> dict[str, torch.Tensor]:
    """What the LE learned: item tokens, LoRA matrices and the three heads (no frozen LM weight)."""
    out = {f"item_tokens.{k}": v for k, v in env.item_tokens.state_dict().items()}
    out |= {f"lm.{k}": v for k, v in env.lm.state_dict().items() if "lora_" in k}
    for name in ("state_proj", "action_proj", "reward_head"):
        out |= {f"{name}.{k}": v for k, v in getattr(env, name).state_dict().items()}
    return {k: v.detach().contiguous().cpu() for k, v in out.items()}


def pass_key(env: LEnvironment, users: np.ndarray, items: np.ndarray, cfg: PassConfig) -> str:
    """Cache key: LE weights, pass config, the sequences and the LM's name."""
    name = getattr(getattr(env.lm, "config", None), "_name_or_path", "")
    return make_key(le=tensor_digest(learned_state(env)), cfg=asdict(cfg), data=array_digest(users, items), lm=name,
                    stream="per-batch")      # random candidates: one stream per batch (shardable), since v0.1.0


def excluded(seq: np.ndarray, start: int, count: int, num_items: int, history: bool) -> torch.Tensor:
    """(count, N) True where a candidate is not allowed: the logged item, and the history if asked."""
    out = torch.zeros(count, num_items, dtype=torch.bool)
    for p in range(count):
        t = start + p
        out[p, torch.as_tensor(seq[:t + 1] if history else seq[t:t + 1])] = True
    return out


def pick_candidates(states: torch.Tensor, vectors: torch.Tensor, banned: torch.Tensor, cfg: PassConfig,
                    gen: torch.Generator) -> torch.Tensor:
    """(c, D) states, (N, D) u(a), (c, N) banned -> (c, M) candidates: top by ⟨s, u⟩, then random.

    A row with fewer than M allowed items repeats its best allowed item in the spare slots.

    Raises:
        ValueError: a row with no allowed item at all (the user has seen the whole catalogue).
    """
    if bool(banned.all(dim=1).any()):
        raise ValueError("no candidate left for augmentation: a user's history covers every item; "
                         "set PassConfig.exclude_history=False or drop such users")
    scores = (states @ vectors.T).masked_fill(banned, -torch.inf)                 # (c, N)
    top = torch.topk(scores, cfg.candidates - cfg.random_candidates, dim=1).indices
    noise = torch.rand(scores.shape, generator=gen).masked_fill(banned, -1.0)
    noise.scatter_(1, top, -1.0)
    rand = torch.topk(noise, cfg.random_candidates, dim=1).indices
    cands = torch.cat([top, rand], 1)                                             # (c, M)
    spare = banned.gather(1, cands)                              # a top slot with too few allowed items
    spare[:, top.shape[1]:] |= noise.gather(1, rand) < 0       # a random slot that drew a top or banned item
    return torch.where(spare, cands[:, :1], cands)


@torch.no_grad()
def run_pass(env: LEnvironment, users: np.ndarray, items: np.ndarray, cfg: PassConfig, *,
             context: int, show_progress: bool = False) -> LEPass:
    """The pass over rows sorted by user (then time): ``users``, ``items`` (E,) from the training frame."""
    from recrl_core.progress import bar as progress_bar

    t0, n, P = time.perf_counter(), env.item_tokens.num_items, len(env.prefix)
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]                 # first row per user
    seqs = {int(users[s]): items[s:e] for s, e in zip(starts, np.r_[starts[1:], len(users)])}
    offset = {int(users[s]): int(s) for s in starts}
    vectors = _cpu(env.item_vectors())                                            # (N, D)
    E, K = len(items), cfg.aug_k_max
    out = {"le_state": np.zeros((E, vectors.shape[1]), np.float32), "le_reward": np.zeros(E, np.float32),
           "aug_actions": np.zeros((E, K), np.int64), "aug_reward": np.zeros((E, K), np.float32),
           "candidate_reward": np.zeros(E, np.float32)}
    chunks, tokens, w = chunks_of(seqs, context), 0, distributed.world()
    starts_b = range(0, len(chunks), cfg.batch_size)                              # fixed batches of chunks
    mine = distributed.shard(len(starts_b), w)                                    # this process's block
    for k in progress_bar(mine, desc="LE pass", show=show_progress and w.main, leave=False):
        b0, gen = starts_b[k], batch_generator(cfg.seed, k)
        batch = chunks[b0:b0 + cfg.batch_size]
        empty = [np.zeros((len(c), 0), np.int64) for _, _, c in batch]
        tree = chunk_tree(env, [c for _, _, c in batch], empty)                    # pass 1: chunks only
        h, tokens = env.hidden(tree), tokens + tree["ids"].numel()
        cands = []
        for b, (u, s, c) in enumerate(batch):
            rows, pos = offset[u] + s + np.arange(len(c)), torch.arange(len(c))
            states = _cpu(env.states(h[b, P - 1 + pos]))                       # (c, D)
            out["le_state"][rows] = states.numpy()
            out["le_reward"][rows] = _cpu(env.rewards(h[b, P + pos])).numpy()
            cands.append(pick_candidates(states, vectors, excluded(seqs[u], s, len(c), n, cfg.exclude_history),
                                         cfg, gen).numpy())                       # (c, M)
        tree = chunk_tree(env, [c for _, _, c in batch], cands)                    # pass 2: + candidates
        h, tokens = env.hidden(tree), tokens + tree["ids"].numel()
        Lm, M = tree["main_width"], cfg.candidates
        for b, (u, s, c) in enumerate(batch):
            rows = offset[u] + s + np.arange(len(c))
            r = _cpu(env.rewards(h[b, Lm:Lm + len(c) * M])).view(len(c), M)        # (c, M)
            best = torch.topk(r, K, dim=1)
            out["aug_actions"][rows] = np.take_along_axis(cands[b], best.indices.numpy(), 1)
            out["aug_reward"][rows], out["candidate_reward"][rows] = best.values.numpy(), r.mean(1).numpy()
    if w.size > 1:                                   # every process gets every row, merged in batch order
        out, tokens = _merge(out, chunks, starts_b, cfg.batch_size, offset, w, tokens)
    return LEPass(**out, item_vectors=vectors.numpy(), seconds=time.perf_counter() - t0, lm_tokens=tokens)


def batch_generator(seed: int, k: int) -> torch.Generator:
    """Batch ``k``'s own random stream (random candidates): the same whichever process runs the batch."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, k]).generate_state(1)[0]))


def _merge(out: dict, chunks: list, starts_b: range, batch_size: int, offset: dict, w, tokens: int):
    """Gather each process's rows (its block of batches) and assemble the single-process arrays."""
    mine = distributed.shard(len(starts_b), w)
    rows = np.concatenate([offset[u] + s + np.arange(len(c)) for k in mine
                           for u, s, c in chunks[starts_b[k]:starts_b[k] + batch_size]] or [np.zeros(0, np.int64)])
    parts = distributed.gather(({name: a[rows] for name, a in out.items()}, rows, tokens), w)
    merged = {name: np.zeros_like(a) for name, a in out.items()}
    for values, r, _ in parts:
        for name in merged:
            merged[name][r] = values[name]
    return merged, sum(t for _, _, t in parts)


def _cpu(t: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy (the pass's arrays are numpy, whatever device and dtype the LM uses)."""
    return t.detach().float().cpu()


def cached_pass(env: LEnvironment, users: np.ndarray, items: np.ndarray, cfg: PassConfig, *, context: int,
                cache_root: Path | None = None, show_progress: bool = False) -> LEPass:
    """:func:`run_pass` once per key; later calls read ``<cache>/lea-pass/<key>.safetensors``.

    Under ``accelerate launch`` every process runs its block of batches, all get the merged pass,
    and the main process writes the one cache file (the same bytes a single process writes).
    """
    store, w = TensorCache("lea-pass", cache_root), distributed.world()
    key = pass_key(env, users, items, cfg)
    t0 = time.perf_counter()
    stored = store.load(key)
    if stored is not None:
        arrays = {k: stored[0][k].numpy() for k in FIELDS}
        return LEPass(**arrays, seconds=time.perf_counter() - t0, cached=True)
    result = run_pass(env, users, items, cfg, context=context, show_progress=show_progress)
    if w.main:
        store.save(key, {k: getattr(result, k) for k in FIELDS})
    distributed.barrier(w)                           # the file exists for everyone before anyone goes on
    return result
