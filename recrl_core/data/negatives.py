"""Negative item sampling for SNQN/SA2C-style losses and sampled metrics.

Taught in: sec-sampled-vs-full
"""

from __future__ import annotations

import numpy as np


def sample_negatives(pos: np.ndarray, num_items: int, k: int, rng: np.random.Generator,
                     probs: np.ndarray | None = None) -> np.ndarray:
    """``k`` items per row, never equal to that row's positive item.

    Args:
        pos: (B,) positive item per row.
        num_items: N; negatives are drawn from [0, N).
        k: negatives per row (drawn with replacement, so k may exceed N - 1).
        rng: the random generator.
        probs: optional (N,) sampling distribution (e.g. popularity); uniform if None.
    Returns:
        (B, k) int64. Draws are with replacement across the k columns, as in the
        reference code; only collisions with the positive are redrawn.
    """
    if num_items < 2:
        raise ValueError(f"negatives need at least 2 items in the catalogue, got {num_items}")
    pos = np.asarray(pos)
    draw = (lambda size: rng.integers(0, num_items, size=size)) if probs is None \
        else (lambda size: rng.choice(num_items, size=size, p=probs))
    neg = draw((len(pos), k))
    clash = neg == pos[:, None]
    while clash.any():                       # redraw only the collisions
        neg[clash] = draw(int(clash.sum()))
        clash = neg == pos[:, None]
    return neg.astype(np.int64)
