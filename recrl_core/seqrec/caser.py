"""Caser: horizontal and vertical convolutions over the (T, H) embedding "image" of a history.

Horizontal filters of height h slide over time and are max-pooled (union-level
patterns); one vertical filter of height T is a learned weighted sum of the rows
(point-level patterns, as in the SQN code family, which uses a single one).

.. math::
    o = [\\max_s \\mathrm{relu}(F^{(h)} * E_{s:s+h})]_{h, \\text{filter}}, \\quad
    o' = \\textstyle\\sum_t w_t E_t, \\quad
    \\text{state} = \\mathrm{relu}(W\\,\\mathrm{dropout}([o; o']) + b)

**Padding rule.** Rows of E beyond a row's length are zeroed, and the max over time
only counts windows that start at ``s <= max(L - h, 0)``: windows lying wholly inside
the L real items, or, when L < h, the single window at s = 0 (the real items followed
by zero rows). Neither depends on what or how much padding follows, so the state is
padding-invariant. Inputs are cut to the last ``state_len`` real items (the vertical
filter has a fixed height).

Reference: Tang & Wang, "Personalized Top-N Sequential Recommendation via
Convolutional Sequence Embedding", WSDM 2018, Section 3.3 (Eqs. 3-7).
Taught in: sec-gru4rec-caser
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recrl_core.seqrec.embedding import item_embedding, last_items, valid_mask


class Caser(nn.Module):
    """Convolutional sequence embedding; ``forward(items, lengths) -> (B, H)``.

    Args:
        num_items: N; the pad id is N.
        hidden_size: H, embedding and state width.
        state_len: T, the window length (height of the vertical filter).
        num_filters: horizontal filters per height.
        filter_sizes: heights of the horizontal filters.
        dropout: on the concatenated features, before the final linear layer.
    """

    def __init__(self, num_items: int, hidden_size: int, state_len: int, num_filters: int = 16,
                 filter_sizes: tuple[int, ...] = (2, 3, 4), dropout: float = 0.1):
        super().__init__()
        self.num_items, self.hidden_size, self.state_len = num_items, hidden_size, state_len
        self.filter_sizes = tuple(filter_sizes)
        self.embedding = item_embedding(num_items, hidden_size)
        self.horizontal_convs = nn.ModuleList(
            nn.Conv2d(1, num_filters, kernel_size=(h, hidden_size)) for h in self.filter_sizes)
        self.vertical_conv = nn.Conv2d(1, 1, kernel_size=(state_len, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(self.filter_sizes) + hidden_size, hidden_size)

    def horizontal(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Max-pooled horizontal features, following the padding rule of the module docstring.

        Args:
            emb: (B, T, H) embeddings; rows at or beyond ``lengths`` are ignored.
            lengths: (B,) real rows per sequence, >= 1.
        Returns:
            (B, num_filters * len(filter_sizes)).
        """
        emb = emb * valid_mask(lengths, emb.shape[1])[..., None]        # (B, T, H), zero beyond L
        pooled = []
        for h, conv in zip(self.filter_sizes, self.horizontal_convs):
            padded = F.pad(emb, (0, 0, 0, h - 1))                      # (B, T + h - 1, H)
            out = F.relu(conv(padded.unsqueeze(1))).squeeze(-1)        # (B, F, T): window starts s
            starts = torch.arange(out.shape[-1], device=emb.device)    # (T,)
            ok = starts[None, :] <= (lengths[:, None] - h).clamp(min=0)  # (B, T) valid windows
            out = out.masked_fill(~ok[:, None, :], float("-inf"))      # (B, F, T)
            pooled.append(out.max(dim=-1).values)                      # (B, F)
        return torch.cat(pooled, dim=1)                                 # (B, F * len(filter_sizes))

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encode right-padded histories.

        Args:
            items: (B, T') item ids, right-padded; any width (cut to the last ``state_len``).
            lengths: (B,) real items per row.
        Returns:
            (B, H) state.
        """
        items, lengths = last_items(items, lengths, self.state_len, self.num_items)  # (B, T)
        emb = self.embedding(items)                                    # (B, T, H), pad rows = 0
        o_h = self.horizontal(emb, lengths)                            # (B, F * len(filter_sizes))
        o_v = self.vertical_conv(emb.unsqueeze(1)).flatten(1)          # (B, 1, 1, H) -> (B, H)
        features = self.dropout(torch.cat([o_h, o_v], dim=1))          # (B, F * sizes + H)
        return F.relu(self.fc(features))                               # (B, H)
