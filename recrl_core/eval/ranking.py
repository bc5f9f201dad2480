"""Full-catalogue ranking on score matrices, batched (no Python loop per user).

Ties are broken by item index (lower index first), the same rule for ranks and
for top-k lists, so a metric never depends on how a sort happens to order ties.

Taught in: sec-metrics
"""

from __future__ import annotations

import torch


def mask_history(scores: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Scores with the user's already-seen items set to ``-inf``.

    Args:
        scores: (B, N); items: (B, T) right-padded history (pad id N); lengths: (B,).
    """
    num_items = scores.shape[1]
    valid = torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]  # (B, T)
    cols = torch.where(valid, items, torch.full_like(items, num_items))                     # pad -> N
    padded = torch.cat([scores, scores.new_zeros(scores.shape[0], 1)], dim=1)              # (B, N+1)
    padded = padded.scatter(1, cols, float("-inf"))
    return padded[:, :num_items]


def full_ranks(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1-based rank of each target among all N items: ``1 + #higher + #tied with lower index``.

    Args:
        scores: (B, N); target: (B,) item indices.
    Returns:
        (B,) int64 ranks.
    """
    target_score = scores.gather(1, target[:, None])                       # (B, 1)
    higher = (scores > target_score).sum(dim=1)                            # (B,)
    index = torch.arange(scores.shape[1], device=scores.device)[None, :]   # (1, N)
    tied_before = ((scores == target_score) & (index < target[:, None])).sum(dim=1)
    return 1 + higher + tied_before


def sampled_ranks(scores: torch.Tensor, target: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Rank of the target among itself and the given negatives only (sampled metrics).

    Args:
        scores: (B, N); target: (B,); negatives: (B, m) item indices.
    Returns:
        (B,) int64 ranks in [1, m + 1]; ties broken by item index as in :func:`full_ranks`.
    """
    target_score = scores.gather(1, target[:, None])                       # (B, 1)
    neg_score = scores.gather(1, negatives)                                # (B, m)
    tied_before = (neg_score == target_score) & (negatives < target[:, None])
    return 1 + (neg_score > target_score).sum(dim=1) + tied_before.sum(dim=1)


def top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """(B, k) item indices, best first; ties by lower index (a stable sort)."""
    return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
