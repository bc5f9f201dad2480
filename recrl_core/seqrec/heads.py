"""Heads on a sequential encoder: item scores, and SQN's shared encoder with two heads.

.. math::
    h_t = G(x_{1:t}), \\qquad z_t = W_s h_t + b_s, \\qquad q_t = W_q h_t + b_q

``z`` is the supervised (next-item) head, ``q`` the Q head; items are ranked by ``z``.

Reference: Xin et al., "Self-Supervised Reinforcement Learning for Recommender Systems",
SIGIR 2020, Section 3 (spec-sqn).
Taught in: sec-next-item-task, sec-sqn-sac
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from recrl_core import seeding
from recrl_core.config import Mode
from recrl_core.seqrec.caser import Caser
from recrl_core.seqrec.embedding import last_items
from recrl_core.seqrec.gru4rec import GRU4Rec
from recrl_core.seqrec.sasrec import SASRec

BACKBONES = ("gru4rec", "caser", "sasrec")


@dataclass(frozen=True)
class EncoderConfig:
    backbone: str = "gru4rec"              # one of BACKBONES (Paper: SQN/SA2C report all of them)
    hidden_size: int = 64                  # H, embedding/state width (Public code: --hidden_factor)
    state_len: int = 10                    # T, history window (Public code: replay_buffer.py state_size)
    num_filters: int = 16                  # Caser filters per height (Public code: SA2C argparse)
    filter_sizes: tuple[int, ...] = (2, 3, 4)  # Caser horizontal heights (Public code: SA2C argparse)
    num_blocks: int = 1                    # SASRec blocks (Public code: SA2C argparse)
    num_heads: int = 1                     # SASRec heads (Public code: SA2C argparse)
    dropout: float = 0.1                   # Caser/SASRec dropout rate (Public code: SA2C argparse)
    ffn_multiple: int = 1                  # SASRec FFN inner width / H (Paper: 1; RecBole: 4)
    activation: str = "relu"               # SASRec FFN activation (Paper: ReLU; RecBole: GELU)
    norm_first: bool = True                # SASRec pre-LN blocks (Paper) or post-LN (RecBole)
    init_std: float | None = None          # SASRec N(0, std²) init of weights (RecBole: 0.02); None: PyTorch's
    tie_output: bool = False               # supervised scores = h · item embedding (SASRec paper, RecBole)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("hidden_size",)

    @classmethod
    def for_mode(cls, mode: Mode) -> "EncoderConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(hidden_size=16)}[mode]
        return replace(cls(), **sizes)

    def recbole_sasrec(self) -> "EncoderConfig":
        """This config with RecBole 1.2.1's SASRec architecture (``sasrec.yaml``; sizes kept).

        2 blocks of 2 heads, FFN 4 H with GELU, post-LN, N(0, 0.02²) init, dropout 0.5 and
        the output tied to the item embedding. RecBole also trains with Adam at 1e-3
        (``SupervisedConfig.lr``), which is not an encoder field.
        """
        return replace(self, backbone="sasrec", num_blocks=2, num_heads=2, ffn_multiple=4, activation="gelu",
                       norm_first=False, init_std=0.02, dropout=0.5, tie_output=True)


def build_encoder(cfg: EncoderConfig, num_items: int) -> nn.Module:
    """The backbone named by ``cfg.backbone``; ``forward(items (B, T), lengths (B,)) -> (B, H)``.

    Raises:
        ValueError: for an unknown backbone, listing the choices.
    """
    if cfg.backbone == "gru4rec":
        return GRU4Rec(num_items, cfg.hidden_size)
    if cfg.backbone == "caser":
        return Caser(num_items, cfg.hidden_size, cfg.state_len, cfg.num_filters, cfg.filter_sizes,
                     cfg.dropout)
    if cfg.backbone == "sasrec":
        return SASRec(num_items, cfg.hidden_size, cfg.state_len, cfg.num_blocks, cfg.num_heads, cfg.dropout,
                      cfg.ffn_multiple * cfg.hidden_size, cfg.activation, cfg.norm_first, cfg.init_std)
    raise ValueError(f"unknown backbone {cfg.backbone!r}; choose one of: {', '.join(BACKBONES)}")


class ItemScorer(nn.Module):
    """A linear head ``(B, H) -> (B, N)``: one score per item (the pad id gets none).

    With ``tied`` (the encoder's item embedding, (N + 1, H)) the scores are ``h · e_i``:
    the output item vectors are the input ones, as in the SASRec paper (Section 3.4,
    "shared item embedding") and RecBole; no bias.
    """

    def __init__(self, hidden_size: int, num_items: int, tied: nn.Embedding | None = None):
        super().__init__()
        self.num_items = num_items
        self.linear = nn.Linear(hidden_size, num_items) if tied is None else None
        self.tied = [tied] if tied is not None else []        # a list: the encoder owns the parameter

    @property
    def weight(self) -> torch.Tensor:
        """(N, H) output item vectors."""
        return self.linear.weight if self.linear is not None else self.tied[0].weight[:self.num_items]

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """(..., H) state -> (..., N) scores."""
        return self.linear(state) if self.linear is not None else state @ self.weight.T


class TwoHead(nn.Module):
    """A shared encoder with a supervised head (``logits``) and a Q head (``q_values``).

    Also a scorer for ``recrl_core.eval.offline``: ``score`` ranks by the supervised
    head. The caller puts the model in ``eval()`` mode (dropout off) before scoring.

    Args:
        encoder: any encoder with ``forward(items, lengths) -> (B, H)`` and ``hidden_size``.
        num_items: N; the pad id is N.
        state_len: the training window; ``score`` keeps the last ``state_len`` real items
            (default: ``EncoderConfig().state_len``; pass ``cfg.state_len``).
        tie_output: supervised scores from the encoder's item embedding (:class:`ItemScorer`).
    """

    def __init__(self, encoder: nn.Module, num_items: int, state_len: int = EncoderConfig.state_len,
                 tie_output: bool = False):
        super().__init__()
        self.encoder, self.num_items, self.state_len = encoder, num_items, state_len
        self.supervised = ItemScorer(encoder.hidden_size, num_items, encoder.embedding if tie_output else None)
        self.q = ItemScorer(encoder.hidden_size, num_items)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) items, (B,) lengths -> ``(logits (B, N), q_values (B, N))`` from one state."""
        state = self.encoder(items, lengths)                            # (B, H)
        return self.supervised(state), self.q(state)

    def q_values(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Only the Q head, (B, N): the bootstrap passes of the SQN family need no logits."""
        return self.q(self.encoder(items, lengths))

    def score(self, users: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Supervised-head scores for evaluation histories of any width.

        Args:
            users: (B,) unused (the state is the history).
            items: (B, T') right-padded histories, possibly longer than ``state_len``.
            lengths: (B,) real items per row (0 is read as one padding token).
        Returns:
            (B, N) logits of the last ``state_len`` real items' state.
        """
        items, lengths = last_items(items, lengths, self.state_len, self.num_items)  # (B, state_len)
        logits, _ = self(items, lengths)
        return logits                                                   # (B, N)


def make_net(cfg: EncoderConfig, num_items: int, seed: int, *,
             wrap_encoder: Callable[[nn.Module], nn.Module] | None = None) -> TwoHead:
    """One SQN-family network: the backbone of ``cfg`` with a supervised head and a Q head.

    ``seeding.seed_everything(seed)`` runs first, so a seed names the same initial
    weights in every chapter; ``wrap_encoder`` wraps the backbone before the heads are
    built (LEA's fused encoder). Pairs for double-Q: :func:`recrl_core.rl.double_q.make_pair`.

    Args:
        cfg: the backbone and its sizes.
        num_items: N (the pad id is N).
        seed: fixes the initial weights.
        wrap_encoder: ``backbone -> encoder`` with ``hidden_size``; None keeps the backbone.
    Returns:
        ``TwoHead(encoder, num_items, cfg.state_len)``.
    Taught in: sec-sqn-sac
    """
    seeding.seed_everything(seed)
    encoder = build_encoder(cfg, num_items)
    if wrap_encoder is not None:
        encoder = wrap_encoder(encoder)
    return TwoHead(encoder, num_items, cfg.state_len, cfg.tie_output)
