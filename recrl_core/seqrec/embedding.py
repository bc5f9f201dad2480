"""The item embedding and the padding helpers every sequential encoder shares.

Histories are right-padded: ``items[b, :lengths[b]]`` are real item ids (oldest
first), the rest is the pad id ``N`` (= number of items). An empty history is one
padding token of length 1 (``build_transitions``), so ``lengths >= 1`` inside encoders.

Taught in: sec-gru4rec-caser
"""

from __future__ import annotations

import torch
from torch import nn


def item_embedding(num_items: int, hidden_size: int) -> nn.Embedding:
    """``nn.Embedding(N + 1, H)`` whose last row (the pad id ``N``) is zero and never trained.

    Weights start at N(0, 0.01^2), as the SQN public code's ``state_embeddings``.

    Args:
        num_items: N, the catalogue size; the pad id is N.
        hidden_size: H, the embedding width.
    Returns:
        The embedding module; ``padding_idx = num_items``.
    """
    embedding = nn.Embedding(num_items + 1, hidden_size, padding_idx=num_items)
    nn.init.normal_(embedding.weight, mean=0.0, std=0.01)
    with torch.no_grad():
        embedding.weight[num_items].zero_()                    # padding_idx row stays 0 (no gradient)
    return embedding


def valid_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B, T) bool, True at real positions ``t < lengths[b]``."""
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


def last_valid(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The output at each row's last real position.

    Args:
        outputs: (B, T, H) per-position outputs.
        lengths: (B,) number of real positions, >= 1.
    Returns:
        (B, H) ``outputs[b, lengths[b] - 1]``.
    """
    index = (lengths - 1).clamp(min=0).to(outputs.device)       # (B,)
    index = index[:, None, None].expand(-1, 1, outputs.shape[-1])  # (B, 1, H)
    return outputs.gather(1, index).squeeze(1)                 # (B, H)


def last_items(items: torch.Tensor, lengths: torch.Tensor, n: int,
               pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the last ``n`` real items of every row, right-padded to width ``n``.

    Evaluation histories can be longer than the training window ``state_len``;
    this makes them look like training states. A row with length 0 becomes one
    padding token of length 1, as in ``build_transitions``.

    Args:
        items: (B, T) right-padded item ids; entries beyond ``lengths`` are ignored.
        lengths: (B,) number of real items per row.
        n: width of the result (the window length).
        pad_id: the padding id ``N``.
    Returns:
        items (B, n) with the ``min(lengths, n)`` most recent items first-to-last, then
        ``pad_id``; lengths (B,) equal to ``clamp(lengths, 1, n)``.
    """
    kept = lengths.clamp(max=n)                                # (B,) real items kept
    start = lengths - kept                                     # (B,) first kept column
    offsets = torch.arange(n, device=items.device)[None, :]     # (1, n)
    source = (start[:, None] + offsets).clamp(max=items.shape[1] - 1)  # (B, n) column to copy
    picked = items.gather(1, source)                           # (B, n)
    out = torch.where(offsets < kept[:, None], picked, torch.full_like(picked, pad_id))
    return out, kept.clamp(min=1)
