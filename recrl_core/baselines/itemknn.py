"""Item-kNN on co-occurrence: score(i) = sum of similarities of i to the history items.

Similarity is cosine between item columns of the binary user-item matrix, with
a shrinkage term for rarely co-rated pairs, pruned to each item's
``neighbours`` most similar items (Sarwar et al., WWW 2001).

.. math:: s_{ij} = \\frac{|U_i \\cap U_j|}{\\sqrt{|U_i|}\\sqrt{|U_j|} + h}

Taught in: sec-baselines
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import pandas as pd
import torch

from recrl_core.baselines.interactions_matrix import history_multi_hot, user_item_matrix
from recrl_core.config import Mode


@dataclass(frozen=True)
class ItemKNNConfig:
    neighbours: int = 100   # kept per item (Proposed; a common default for item-kNN)
    shrink: float = 10.0    # h above: damps similarities backed by few co-raters (Proposed)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("neighbours",)

    @classmethod
    def for_mode(cls, mode: Mode) -> "ItemKNNConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(neighbours=20)}[mode]
        return replace(cls(), **sizes)


class ItemKNN:
    def __init__(self, num_users: int, num_items: int, cfg: ItemKNNConfig):
        self.num_users, self.num_items, self.cfg = num_users, num_items, cfg
        self.similarity_t = torch.zeros(0)

    def fit(self, frame: pd.DataFrame) -> "ItemKNN":
        """Build the pruned (N, N) similarity matrix (stored sparse) from training events."""
        matrix = user_item_matrix(frame, self.num_users, self.num_items)       # (U, N)
        co = matrix.T @ matrix                                                  # (N, N) co-raters
        norms = co.diagonal().sqrt()                                            # (N,)
        sim = co / (norms[:, None] * norms[None, :] + self.cfg.shrink)
        sim.fill_diagonal_(0.0)                                                 # an item is not its own neighbour
        k = min(self.cfg.neighbours, self.num_items - 1)
        values, cols = sim.topk(k, dim=1)                                       # (N, k)
        rows = torch.arange(self.num_items)[:, None].expand(-1, k)
        keep = values > 0
        # Stored transposed: scoring is then one sparse @ dense product.
        self.similarity_t = torch.sparse_coo_tensor(
            torch.stack([cols[keep], rows[keep]]), values[keep],
            (self.num_items, self.num_items), check_invariants=True).coalesce()
        return self

    def score(self, users: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hot = history_multi_hot(items, lengths, self.num_items)                 # (B, N)
        # scores[b, j] = sum_i hot[b, i] * sim[i, j] = (sim^T @ hot^T)^T
        return torch.sparse.mm(self.similarity_t, hot.T).T                                   # (B, N)
