"""GRU4Rec: a recurrent encoder whose state is the GRU hidden state after the last real item.

.. math::
    r_t = \\sigma(W_r x_t + U_r h_{t-1} + b_r), \\quad z_t = \\sigma(W_z x_t + U_z h_{t-1} + b_z) \\\\
    \\tilde h_t = \\tanh(W x_t + r_t \\odot (U h_{t-1}) + b), \\quad
    h_t = (1 - z_t) \\odot \\tilde h_t + z_t \\odot h_{t-1}

(PyTorch's GRU convention, in which the reset gate multiplies ``U h + b_hn``.)

Reference: Hidasi, Karatzoglou, Baltrunas & Tikk, "Session-based Recommendations with
Recurrent Neural Networks", ICLR 2016, Section 3.1. The SQN code family feeds
item embeddings (width H) into one GRU layer of width H.
Taught in: sec-gru4rec-caser
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from recrl_core.seqrec.embedding import item_embedding


class GRU4Rec(nn.Module):
    """Item embedding -> one GRU layer; state = hidden state at the last real position.

    Args:
        num_items: N; the pad id is N.
        hidden_size: H, embedding and GRU width.
    """

    def __init__(self, num_items: int, hidden_size: int):
        super().__init__()
        self.num_items, self.hidden_size = num_items, hidden_size
        self.embedding = item_embedding(num_items, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encode right-padded histories.

        Args:
            items: (B, T) item ids, right-padded; any width T >= max(lengths).
            lengths: (B,) real items per row, >= 1.
        Returns:
            (B, H) state. Columns beyond ``lengths`` are never read (packed sequence).
        """
        emb = self.embedding(items)                                    # (B, T, H)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed)                                     # (1, B, H), original row order
        return last[-1]                                                # (B, H)

    def sequence_output(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) right-padded items, (B,) lengths -> (B, T, H) the hidden state after each item, 0 on padding."""
        emb = self.embedding(items)                                    # (B, T, H)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=items.shape[1])
        return out                                                     # (B, T, H)
