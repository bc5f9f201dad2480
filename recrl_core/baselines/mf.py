"""Matrix factorisation for implicit feedback, solved by alternating least squares.

Hu, Koren & Volinsky (ICDM 2008): with preference :math:`p_{ui}=1` for observed
pairs (0 otherwise) and confidence :math:`c_{ui} = 1 + \\alpha` (1 otherwise),

.. math::
    \\min_{X,Y} \\sum_{u,i} c_{ui}(p_{ui} - x_u^\\top y_i)^2 + \\lambda(\\|X\\|^2 + \\|Y\\|^2),
    \\qquad x_u = (Y^\\top Y + \\alpha Y_u^\\top Y_u + \\lambda I)^{-1} (1+\\alpha) Y_u^\\top \\mathbf 1

where :math:`Y_u` stacks the factors of u's items. The same closed form
"folds in" any history at evaluation time, so users who arrive after the
training cut-off of a global-time split still get personal scores.

Taught in: sec-baselines
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core.config import Mode


@dataclass(frozen=True)
class ALSConfig:
    factors: int = 64        # latent dimension (Proposed; common default)
    reg: float = 0.1         # lambda, L2 on factors (Proposed)
    alpha: float = 10.0      # confidence of an observed pair (Proposed; Hu et al. use 40 on counts)
    iterations: int = 15     # alternating sweeps (Proposed)
    seed: int = 0            # factor initialisation

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("factors", "iterations")

    @classmethod
    def for_mode(cls, mode: Mode) -> "ALSConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(factors=16, iterations=5)}[mode]
        return replace(cls(), **sizes)


def solve_rows(factors: torch.Tensor, gram: torch.Tensor, index: torch.Tensor, mask: torch.Tensor,
               alpha: float, reg: float) -> torch.Tensor:
    """Closed-form rows ``x = (G + alpha Y_r^T Y_r + reg I)^-1 (1+alpha) Y_r^T 1``, batched.

    Args:
        factors: (N, F) the fixed side's factors Y.
        gram: (F, F) ``Y^T Y``.
        index: (B, T) rows of ``factors`` each solved row interacted with (padded anyhow).
        mask: (B, T) True where ``index`` is a real interaction.
    Returns:
        (B, F) solved factors.
    """
    picked = factors[index] * mask[..., None]                                  # (B, T, F)
    eye = torch.eye(factors.shape[1], dtype=factors.dtype)
    lhs = gram + alpha * picked.transpose(1, 2) @ picked + reg * eye           # (B, F, F)
    rhs = (1.0 + alpha) * picked.sum(dim=1)                                    # (B, F)
    return torch.linalg.solve(lhs, rhs)


def _padded_groups(owner: np.ndarray, other: np.ndarray, num_rows: int, chunk: int = 256):
    """Yield (rows, index (B,T), mask (B,T)) for rows grouped in chunks of similar length."""
    order = np.argsort(owner, kind="stable")
    owner, other = owner[order], other[order]
    starts = np.searchsorted(owner, np.arange(num_rows), side="left")
    counts = np.bincount(owner, minlength=num_rows)
    by_length = np.argsort(counts, kind="stable")                              # similar lengths together
    for begin in range(0, num_rows, chunk):
        rows = by_length[begin:begin + chunk]
        width = max(int(counts[rows].max()), 1)
        offsets = np.arange(width)[None, :]
        mask = offsets < counts[rows][:, None]                                 # (B, T)
        index = np.where(mask, other[np.minimum(starts[rows][:, None] + offsets, len(other) - 1)], 0)
        yield rows, torch.as_tensor(index), torch.as_tensor(mask)


class ImplicitALS:
    def __init__(self, num_users: int, num_items: int, cfg: ALSConfig):
        self.num_users, self.num_items, self.cfg = num_users, num_items, cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        self.user_factors = 0.01 * torch.randn(num_users, cfg.factors, generator=gen)
        self.item_factors = 0.01 * torch.randn(num_items, cfg.factors, generator=gen)
        self.history: list[float] = []

    def _sweep(self, solved: torch.Tensor, fixed: torch.Tensor, owner, other) -> None:
        gram = fixed.T @ fixed                                                  # (F, F)
        for rows, index, mask in _padded_groups(owner, other, len(solved)):
            solved[torch.as_tensor(rows)] = solve_rows(fixed, gram, index, mask,
                                                       self.cfg.alpha, self.cfg.reg)

    def fit(self, frame: pd.DataFrame) -> "ImplicitALS":
        """Alternate user and item solves on the distinct (user, item) pairs of ``frame``."""
        pairs = frame[["user_idx", "item_idx"]].drop_duplicates()
        users = pairs["user_idx"].to_numpy(dtype=np.int64, copy=True)
        items = pairs["item_idx"].to_numpy(dtype=np.int64, copy=True)
        for _ in range(self.cfg.iterations):
            self._sweep(self.user_factors, self.item_factors, users, items)
            self._sweep(self.item_factors, self.user_factors, items, users)
            self.history.append(self.loss(users, items))
        return self

    def loss(self, users: np.ndarray, items: np.ndarray) -> float:
        """The weighted squared loss plus L2 (the objective above), for monitoring convergence."""
        pred = self.user_factors @ self.item_factors.T                          # (U, N)
        target = torch.zeros_like(pred)
        target[torch.as_tensor(users), torch.as_tensor(items)] = 1.0
        weight = 1.0 + self.cfg.alpha * target
        fit = (weight * (target - pred) ** 2).sum()
        l2 = self.user_factors.pow(2).sum() + self.item_factors.pow(2).sum()
        return float(fit + self.cfg.reg * l2)

    def score(self, users: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Fold in each history (not the stored user factor), then ``x_u^T Y``."""
        gram = self.item_factors.T @ self.item_factors
        mask = torch.arange(items.shape[1])[None, :] < lengths[:, None]         # (B, T)
        index = torch.where(mask, items, torch.zeros_like(items))
        x = solve_rows(self.item_factors, gram, index, mask, self.cfg.alpha, self.cfg.reg)  # (B, F)
        return x @ self.item_factors.T                                          # (B, N)
