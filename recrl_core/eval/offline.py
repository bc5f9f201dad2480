"""Evaluate any scorer on evaluation events: full ranking by default.

A *scorer* is any object with ``score(users, items, lengths) -> (B, N)`` tensor:
users (B,), right-padded histories (B, T) and their lengths (B,). Baselines,
sequential encoders and RL heads all fit this one interface.

Metric keys follow ``"<metric>@<k>/<behaviour>"`` (``"ndcg@10/purchase"``), with
``"all"`` for every event together.

Taught in: sec-metrics, sec-baselines, sec-sampled-vs-full
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

import numpy as np
import torch

from recrl_core.config import Mode
from recrl_core.data import negatives as negatives_lib
from recrl_core.data.sequences import EvalEvents
from recrl_core.eval import metrics, ranking


@dataclass(frozen=True)
class EvalConfig:
    ks: tuple[int, ...] = (5, 10, 20)   # cut-offs (Paper: SQN/SA2C report 5/10/20)
    mask_history: bool = False         # -inf for seen items (spec-uncertain: False reproduces the papers)
    num_negatives: int = 100           # sampled protocol only (Krichene & Rendle's common setting)
    batch_size: int = 512              # events scored at once (memory, not semantics)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_size",)

    @classmethod
    def for_mode(cls, mode: Mode, **overrides) -> "EvalConfig":
        return replace(cls(**overrides))


class Scorer(Protocol):
    def score(self, users: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B,), (B, T), (B,) -> (B, N) scores; higher is better."""


@dataclass(frozen=True)
class Ranked:
    """Per-event results of one ranking pass: ``ranks`` (M,) and ``top`` (M, K)."""

    ranks: np.ndarray
    top: np.ndarray


def rank_events(scorer: Scorer, events: EvalEvents, *, top_k: int, batch_size: int = 512,
                mask_history: bool = False, show_progress: bool = False) -> Ranked:
    """Score every event against the whole catalogue, in batches.

    Args:
        top_k: length of the recommended lists kept (for beyond-accuracy metrics).
        mask_history: give already-seen items ``-inf`` (spec-uncertain ``mask_history``).
    """
    from recrl_core.progress import bar as progress_bar

    ranks, tops = [], []
    starts = range(0, len(events), batch_size)
    with torch.no_grad():
        for start in progress_bar(starts, desc="ranking", show=show_progress, leave=False):
            batch = slice(start, start + batch_size)
            users = torch.as_tensor(events.users[batch])
            items = torch.as_tensor(events.items[batch])
            lengths = torch.as_tensor(events.lengths[batch])
            scores = scorer.score(users, items, lengths).float()          # (B, N)
            if mask_history:
                scores = ranking.mask_history(scores, items, lengths)
            target = torch.as_tensor(events.target[batch])
            ranks.append(ranking.full_ranks(scores, target).numpy())
            tops.append(ranking.top_k(scores, top_k).numpy())
    return Ranked(ranks=np.concatenate(ranks).astype(float), top=np.concatenate(tops))


def accuracy_metrics(ranks: np.ndarray, behaviour: np.ndarray, ks=(5, 10, 20)) -> dict[str, float]:
    """HR@k, NDCG@k and MRR for all events and per behaviour present in ``behaviour``."""
    out = {}
    groups = {"all": np.ones(len(ranks), dtype=bool)}
    groups |= {b: behaviour == b for b in ("purchase", "click") if (behaviour == b).any()}
    for name, mask in groups.items():
        for k in ks:
            out[f"hr@{k}/{name}"] = metrics.hit_at_k(ranks[mask], k)
            out[f"ndcg@{k}/{name}"] = metrics.ndcg_at_k(ranks[mask], k)
        out[f"mrr/{name}"] = metrics.mrr(ranks[mask])
    return out


def beyond_accuracy(top: np.ndarray, events: EvalEvents, *, k: int, num_items: int,
                    item_users: np.ndarray, num_users: int,
                    item_vectors: np.ndarray | None = None) -> dict[str, float]:
    """Coverage@k, novelty@k, repetitions@k and (with ``item_vectors``) ILD@k of the lists."""
    lists = top[:, :k]
    out = {f"coverage@{k}": metrics.coverage_at_k(lists, num_items),
           f"novelty@{k}": metrics.novelty_at_k(lists, item_users, num_users),
           f"repetitions@{k}": metrics.repetitions_at_k(lists, events.items, events.lengths)}
    if item_vectors is not None:
        out[f"ild@{k}"] = metrics.ild_at_k(lists, item_vectors)
    return out


def evaluate(scorer: Scorer, events: EvalEvents, ks=(5, 10, 20), *, mask_history: bool = False,
             batch_size: int = 512) -> dict[str, float]:
    """Full-ranking accuracy metrics of ``scorer`` on ``events``."""
    ranked = rank_events(scorer, events, top_k=max(ks), batch_size=batch_size,
                         mask_history=mask_history)
    return accuracy_metrics(ranked.ranks, events.behaviour, ks)


def sampled_rank_events(scorer: Scorer, events: EvalEvents, num_negatives: int,
                        rng: np.random.Generator, *, probs: np.ndarray | None = None,
                        mask_history: bool = False, batch_size: int = 512) -> np.ndarray:
    """Ranks of each target among ``num_negatives`` sampled items (uniform, or ``probs``).

    With ``mask_history`` a sampled seen item scores ``-inf``, as in :func:`rank_events`.

    This is the sampled protocol criticised by Krichene & Rendle (KDD 2020); the
    book uses it only to show how it can change conclusions.
    """
    ranks = []
    with torch.no_grad():
        for start in range(0, len(events), batch_size):
            batch = slice(start, start + batch_size)
            items = torch.as_tensor(events.items[batch])
            lengths = torch.as_tensor(events.lengths[batch])
            scores = scorer.score(torch.as_tensor(events.users[batch]), items, lengths).float()
            if mask_history:
                scores = ranking.mask_history(scores, items, lengths)
            num_items = scores.shape[1]
            neg = negatives_lib.sample_negatives(events.target[batch], num_items, num_negatives, rng,
                                                 probs=probs)
            ranks.append(ranking.sampled_ranks(scores, torch.as_tensor(events.target[batch]),
                                               torch.as_tensor(neg)).numpy())
    return np.concatenate(ranks).astype(float)
