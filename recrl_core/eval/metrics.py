"""Ranking and beyond-accuracy metrics.

Accuracy metrics take ``ranks``: the 1-based rank of each event's single
relevant item (``inf`` when it is not ranked at all). With one relevant item
the ideal DCG is 1, so NDCG@k is ``1/log2(rank+1)`` for hits.

.. math::
    \\mathrm{HR@}k = \\tfrac{1}{|E|}\\sum_e \\mathbb 1[\\rho_e \\le k], \\qquad
    \\mathrm{NDCG@}k = \\tfrac{1}{|E|}\\sum_e \\frac{\\mathbb 1[\\rho_e \\le k]}{\\log_2(\\rho_e+1)}, \\qquad
    \\mathrm{MRR} = \\tfrac{1}{|E|}\\sum_e \\frac{1}{\\rho_e}

Beyond-accuracy metrics take ``top``: the (M, k) recommended lists.

Reference: spec-evaluation (HR, NDCG, CR) and spec-beyond-accuracy (ILD, novelty, coverage).
Taught in: sec-metrics, sec-beyond-accuracy
"""

from __future__ import annotations

import numpy as np


def _check_ranks(ranks) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=float)
    if ranks.size == 0:
        raise ValueError("no evaluation events: metrics of an empty set are undefined")
    if (ranks < 1).any():
        raise ValueError("ranks are 1-based: every rank must be >= 1")
    return ranks


def hit_at_k(ranks, k: int) -> float:
    """Share of events whose relevant item is in the top ``k``."""
    return float((_check_ranks(ranks) <= k).mean())


def ndcg_at_k(ranks, k: int) -> float:
    """Mean ``1/log2(rank+1)`` over events, counting only ranks <= ``k`` (IDCG = 1)."""
    ranks = _check_ranks(ranks)
    gains = np.where(ranks <= k, 1.0 / np.log2(np.minimum(ranks, k) + 1.0), 0.0)
    return float(gains.mean())


def mrr(ranks, k: int | None = None) -> float:
    """Mean reciprocal rank (optionally cut at ``k``: ranks beyond it count 0)."""
    ranks = _check_ranks(ranks)
    rr = 1.0 / ranks
    if k is not None:
        rr = np.where(ranks <= k, rr, 0.0)
    return float(rr.mean())


def cumulative_reward_at_k(ranks, rewards, k: int) -> float:
    """CR@k: the summed rewards of events whose item is a top-``k`` hit (spec-evaluation)."""
    ranks = _check_ranks(ranks)
    return float(np.sum(np.asarray(rewards, dtype=float) * (ranks <= k)))


def ranks_from_lists(top, target) -> np.ndarray:
    """1-based rank of ``target[m]`` in the list ``top[m]``; ``inf`` if absent.

    Args:
        top: (M, K) ranked item ids, best first.
        target: (M,) relevant item per row.
    """
    top, target = np.asarray(top), np.asarray(target)
    found = top == target[:, None]                                   # (M, K)
    return np.where(found.any(axis=1), found.argmax(axis=1) + 1.0, np.inf)


def coverage_at_k(top, num_items: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    return float(len(np.unique(np.asarray(top))) / num_items)


def novelty_at_k(top, item_users, num_users: int) -> float:
    """Mean self-information ``-log2(pop(i)/#users)`` of recommended items.

    Args:
        top: (M, k) lists.
        item_users: (N,) number of users who interacted with each item in training;
            items nobody saw count as one user (finite novelty).
        num_users: number of training users.
    """
    pop = np.maximum(np.asarray(item_users, dtype=float), 1.0)
    return float(np.mean(-np.log2(pop[np.asarray(top)] / num_users)))


def ild_at_k(top, item_vectors) -> float:
    """Intra-list diversity: mean over lists of ``1 - mean pairwise cosine`` (k >= 2).

    Args:
        top: (M, k) lists.
        item_vectors: (N, D) item embeddings or genre vectors; an all-zero vector
            has cosine 0 with everything.
    """
    top = np.asarray(top)
    k = top.shape[1]
    if k < 2:
        raise ValueError("ILD needs lists of at least 2 items")
    vec = np.asarray(item_vectors, dtype=float)
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    unit = np.divide(vec, norm, out=np.zeros_like(vec), where=norm > 0)[top]   # (M, k, D)
    gram = unit @ unit.transpose(0, 2, 1)                                       # (M, k, k)
    pair_sum = (gram.sum(axis=(1, 2)) - np.trace(gram, axis1=1, axis2=2)) / 2  # sum over i<j
    return float(np.mean(1.0 - pair_sum * 2.0 / (k * (k - 1))))


def repetitions_at_k(top, history, lengths) -> float:
    """Mean number of top-k items per list that already appear in the user's history.

    Args:
        top: (M, k) lists; history: (M, T) right-padded items; lengths: (M,).
    """
    top, history = np.asarray(top), np.asarray(history)
    valid = np.arange(history.shape[1])[None, :] < np.asarray(lengths)[:, None]   # (M, T)
    seen = (top[:, :, None] == history[:, None, :]) & valid[:, None, :]           # (M, k, T)
    return float(seen.any(axis=2).sum(axis=1).mean())


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` against 0/1 ``labels`` (a rank statistic; ties get half credit).

    .. math::
        \\mathrm{AUC} = \\frac{\\sum_{i:\\,y_i = 1} \\operatorname{rank}(s_i) - n_+(n_+ + 1)/2}{n_+\\, n_-}

    Args:
        scores: (M,) any real scores (probabilities, rewards, counts).
        labels: (M,) 0/1 or bool; both classes must occur.
    Returns:
        P(score of a random positive > score of a random negative), ties counted ½.
    Taught in: sec-grounded-users, sec-llm-environment
    """
    import pandas as pd

    ranks = pd.Series(scores).rank().to_numpy()                 # average ranks for ties
    pos = np.asarray(labels).astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auc needs both classes, got {n_pos} positives and {n_neg} negatives")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
