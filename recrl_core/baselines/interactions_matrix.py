"""The binary user-item matrix of the training events, shared by the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def user_item_matrix(frame: pd.DataFrame, num_users: int, num_items: int) -> torch.Tensor:
    """(U, N) float32 with 1 where the user interacted with the item (repeats count once)."""
    matrix = torch.zeros(num_users, num_items)
    users = torch.from_numpy(frame["user_idx"].to_numpy(dtype=np.int64, copy=True))
    items = torch.from_numpy(frame["item_idx"].to_numpy(dtype=np.int64, copy=True))
    matrix[users, items] = 1.0
    return matrix


def history_multi_hot(items: torch.Tensor, lengths: torch.Tensor, num_items: int) -> torch.Tensor:
    """(B, N) 0/1 rows marking each history's items; padding (id N) and slots past ``lengths`` ignored."""
    valid = torch.arange(items.shape[1])[None, :] < lengths[:, None]          # (B, T)
    cols = torch.where(valid, items, torch.full_like(items, num_items))       # pad -> N
    hot = torch.zeros(items.shape[0], num_items + 1)
    hot.scatter_(1, cols, 1.0)
    return hot[:, :num_items]
