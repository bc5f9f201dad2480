"""Most-popular: every user gets the items that the most distinct training users interacted with.

Taught in: sec-baselines
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


class MostPopular:
    """Scores = number of distinct training users per item; ties by item index."""

    def __init__(self, num_items: int):
        self.num_items = num_items
        self.counts = torch.zeros(num_items)

    def fit(self, frame: pd.DataFrame) -> "MostPopular":
        """Count distinct users per ``item_idx`` in ``frame``."""
        pairs = frame[["user_idx", "item_idx"]].drop_duplicates()
        counts = np.bincount(pairs["item_idx"].to_numpy(), minlength=self.num_items)
        self.counts = torch.as_tensor(counts, dtype=torch.float32)
        return self

    def score(self, users: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.counts.expand(len(users), -1)                            # (B, N)
