"""SASRec: causal self-attention over the history; state = output at the last real item.

Pre-LN blocks, as written in the paper's Section 3.3, ``g(x) = x + Dropout(g(LayerNorm(x)))``,
then a final LayerNorm:

.. math::
    E^{(0)} = \\mathrm{Dropout}(M_{s} + P), \\quad
    A = E + \\mathrm{Dropout}(\\mathrm{Attn}_{\\text{causal}}(\\mathrm{LN}(E))), \\quad
    E' = A + \\mathrm{Dropout}(\\mathrm{FFN}(\\mathrm{LN}(A)))

with ``FFN(x) = W_2 act(W_1 x + b_1) + b_2`` applied per position (Eq. 4: ReLU, inner width = H).
``norm_first=False`` gives the post-LN blocks of RecBole's SASRec (its ``TransformerEncoder``):
``E^{(0)} = Dropout(LN(M_s + P))``, ``A = LN(E + Dropout(Attn(E)))``, ``E' = LN(A + Dropout(FFN(A)))``,
no final LayerNorm. ``ffn_size`` (RecBole: 4H), ``activation`` (RecBole: GELU) and ``init_std``
(RecBole: every Linear and Embedding weight N(0, 0.02²), biases 0) are the other differences.

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

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def normal_init(module: nn.Module, std: float) -> None:
    """Every Linear and Embedding weight ~ N(0, std²) and Linear biases 0 (BERT's and RecBole's scheme);
    LayerNorms keep weight 1 and bias 0; attention in-projections count as Linear weights."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.MultiheadAttention):
            nn.init.normal_(m.in_proj_weight, 0.0, std)
            nn.init.zeros_(m.in_proj_bias)


class SASRecBlock(nn.Module):
    """One block: causal multi-head self-attention, then a point-wise FFN; pre-LN or post-LN."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float, ffn_size: int | None = None,
                 activation: str = "relu", norm_first: bool = True):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        inner = ffn_size or hidden_size
        self.norm_first = norm_first
        self.attn_norm = nn.LayerNorm(hidden_size)
        self.attn = nn.MultiheadAttention(hidden_size, num_heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(hidden_size)
        self.ffn = nn.Sequential(nn.Linear(hidden_size, inner), ACTIVATIONS[activation](), nn.Dropout(dropout),
                                 nn.Linear(inner, hidden_size))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, H) -> (B, T, H); ``causal`` (T, T) and ``padded`` (B, T) are True where masked."""
        if not self.norm_first:                                        # post-LN (RecBole)
            attended, _ = self.attn(x, x, x, attn_mask=causal, key_padding_mask=padded, need_weights=False)
            x = self.attn_norm(x + self.dropout(attended))             # (B, T, H)
            return self.ffn_norm(x + self.dropout(self.ffn(x)))        # (B, T, H)
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
        ffn_size: the FFN's inner width (None: H, as the paper).
        activation: "relu" (paper) or "gelu" (RecBole).
        norm_first: pre-LN blocks and a final LayerNorm (paper), or post-LN (RecBole).
        init_std: if set, every Linear and Embedding weight ~ N(0, init_std²) and biases 0
            (RecBole: 0.02); None keeps PyTorch's defaults and the N(0, 0.01²) item embedding.
    """

    def __init__(self, num_items: int, hidden_size: int, state_len: int, num_blocks: int = 1,
                 num_heads: int = 1, dropout: float = 0.1, ffn_size: int | None = None, activation: str = "relu",
                 norm_first: bool = True, init_std: float | None = None):
        super().__init__()
        self.num_items, self.hidden_size, self.state_len = num_items, hidden_size, state_len
        self.norm_first = norm_first
        self.embedding = item_embedding(num_items, hidden_size)
        self.positions = nn.Embedding(state_len, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(SASRecBlock(hidden_size, num_heads, dropout, ffn_size, activation, norm_first)
                                    for _ in range(num_blocks))
        if norm_first:
            self.final_norm = nn.LayerNorm(hidden_size)                # after the last block
        else:
            self.input_norm = nn.LayerNorm(hidden_size)                # on the embeddings, before dropout
        if init_std is not None:
            normal_init(self, init_std)
            with torch.no_grad():
                self.embedding.weight[num_items].zero_()               # the pad row stays 0

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
        x = self.embedding(items) + pos[None]                          # (B, T, H)
        x = self.dropout(x if self.norm_first else self.input_norm(x))
        x = x.masked_fill(padded[..., None], 0.0)                      # (B, T, H)
        for block in self.blocks:
            x = block(x, causal, padded)                               # (B, T, H)
        x = self.final_norm(x) if self.norm_first else x
        return x.masked_fill(padded[..., None], 0.0)                   # (B, T, H)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T') items, (B,) lengths -> (B, H) output at the last real position."""
        out = self.sequence_output(items, lengths)                     # (B, T, H)
        return last_valid(out, lengths.clamp(1, self.state_len))       # (B, H)
