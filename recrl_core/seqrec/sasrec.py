"""SASRec: causal self-attention over the history; state = output at the last real item.

Pre-LN blocks, as written in the paper's Section 3.3, ``g(x) = x + Dropout(g(LayerNorm(x)))``,
then a final LayerNorm:

.. math::
    E^{(0)} = \\mathrm{Dropout}(M_{s} + P), \\quad
    A = E + \\mathrm{Dropout}(\\mathrm{Attn}_{\\text{causal}}(\\mathrm{LN}(E))), \\quad
    E' = A + \\mathrm{Dropout}(\\mathrm{FFN}(\\mathrm{LN}(A)))

with ``FFN(x) = W_2 relu(W_1 x + b_1) + b_2`` applied per position (Eq. 4).

Masks: the causal mask lets position t attend only to positions <= t (Section 3.2,
"Causality"); the key-padding mask hides padded keys. With right padding, padded
positions come after the real ones, so the causal mask alone already hides them
from real positions (the key-padding mask only changes the discarded padded
outputs), and no query row is ever fully masked (position 0 is always real), so
there are no NaNs. Padded positions' final outputs are set to 0. Inputs are cut to the last
``state_len`` real items (the learned positions cover ``state_len`` slots).

Reference: Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018, Section 3.
Taught in: sec-sasrec
"""

from __future__ import annotations

import torch
from torch import nn

from recrl_core.seqrec.embedding import item_embedding, last_items, last_valid, valid_mask


class SASRecBlock(nn.Module):
    """One pre-LN block: causal multi-head self-attention, then a point-wise FFN."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float):
        super().__init__()
        self.attn_norm = nn.LayerNorm(hidden_size)
        self.attn = nn.MultiheadAttention(hidden_size, num_heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_size, hidden_size))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, T, H); ``causal`` (T, T) and ``padded`` (B, T) are True where masked."""
        q = self.attn_norm(x)                                          # (B, T, H)
        attended, _ = self.attn(q, q, q, attn_mask=causal, key_padding_mask=padded, need_weights=False)
        x = x + self.dropout(attended)                                 # (B, T, H)
        return x + self.dropout(self.ffn(self.ffn_norm(x)))            # (B, T, H)


class SASRec(nn.Module):
    """Self-attentive sequential encoder; ``forward(items, lengths) -> (B, H)``.

    Args:
        num_items: N; the pad id is N.
        hidden_size: H, embedding and model width (divisible by ``num_heads``).
        state_len: T, the window length (number of learned positions).
        num_blocks: stacked attention blocks.
        num_heads: attention heads per block.
        dropout: on embeddings, attention weights, residual branches and inside the FFN.
    """

    def __init__(self, num_items: int, hidden_size: int, state_len: int, num_blocks: int = 1,
                 num_heads: int = 1, dropout: float = 0.1):
        super().__init__()
        self.num_items, self.hidden_size, self.state_len = num_items, hidden_size, state_len
        self.embedding = item_embedding(num_items, hidden_size)
        self.positions = nn.Embedding(state_len, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(SASRecBlock(hidden_size, num_heads, dropout) for _ in range(num_blocks))
        self.final_norm = nn.LayerNorm(hidden_size)

    def sequence_output(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-position outputs after cutting to the last ``state_len`` real items.

        Args:
            items: (B, T') item ids, right-padded; any width.
            lengths: (B,) real items per row.
        Returns:
            (B, state_len, H); position t depends only on items at positions <= t,
            and padded positions are 0.
        """
        items, lengths = last_items(items, lengths, self.state_len, self.num_items)  # (B, T)
        width = items.shape[1]
        padded = ~valid_mask(lengths, width)                           # (B, T) True = padding
        causal = torch.ones(width, width, dtype=torch.bool, device=items.device).triu(1)  # (T, T)
        pos = self.positions(torch.arange(width, device=items.device))  # (T, H)
        x = self.dropout(self.embedding(items) + pos[None])            # (B, T, H)
        x = x.masked_fill(padded[..., None], 0.0)                      # (B, T, H)
        for block in self.blocks:
            x = block(x, causal, padded)                               # (B, T, H)
        return self.final_norm(x).masked_fill(padded[..., None], 0.0)  # (B, T, H)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T') items, (B,) lengths -> (B, H) output at the last real position."""
        out = self.sequence_output(items, lengths)                     # (B, T, H)
        return last_valid(out, lengths.clamp(1, self.state_len))       # (B, H)
