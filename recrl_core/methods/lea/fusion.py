"""The LE state inside a recommender that never calls the LLM: a distilled student and a residual fusion.

LEA's state model runs offline (``recrl_core.methods.lea.offline_pass``); at serving time a small
student network, trained to match the cached :math:`s_t^{\\text{LE}}` from item histories
alone (:func:`distill_loss`), stands in for it, and :class:`FusedEncoder` feeds the
student's output into the backbone's state (spec-lea-equations "State fusion", spec-lea-pipeline "Serving").

Taught in: sec-lea-grid
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recrl_core.seqrec.gru4rec import GRU4Rec

FUSIONS = ("mlp", "le_only", "none")    # spec-uncertain "state_fusion"


class FusedEncoder(nn.Module):
    """A backbone fused with a student of the LE state model; reads item histories only.

    The student, GRU4Rec of width D over an item table initialised from the LE item
    vectors, gives :math:`\\hat s_t` (B, D). The fusion sees :math:`\\operatorname{sg}(\\hat s_t)`,
    so the student learns only from :func:`distill_loss`. mlp, residual:
    ``h_G + Linear(H, H)(ReLU(Linear(H + D, H)([h_G ; sg(s_hat)])))`` with the last layer
    zero-initialised, so at initialisation the fused state *is* the backbone's and the LE
    input can only be learned in, not imposed; le_only: ``Linear(D, H)(sg(s_hat))``
    (backbone unused); none: ``h_G`` (no student).

    Args: backbone: ``forward(items (B, T), lengths (B,)) -> (B, H)``, with ``hidden_size``.
        num_items: N (pad id N). item_vectors: (N, D) for the student's table, or None.
        le_dim: D. fusion: one of :data:`FUSIONS`. state_len: the window T.
    Reference: spec-lea-equations "State fusion", spec-lea-pipeline "Serving" (Proposed).
    Taught in: sec-lea-grid
    """

    def __init__(self, backbone: nn.Module, num_items: int, item_vectors: torch.Tensor | np.ndarray | None,
                 le_dim: int, fusion: str, state_len: int):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown state_fusion {fusion!r}; choose one of: {', '.join(FUSIONS)}")
        self.backbone, self.fusion, self.state_len = backbone, fusion, state_len
        self.hidden_size = h = backbone.hidden_size
        if fusion != "none":
            self.branch = _student_branch(num_items, item_vectors, le_dim)
            self.fuse = (nn.Sequential(nn.Linear(h + le_dim, h), nn.ReLU(), nn.Linear(h, h))
                         if fusion == "mlp" else nn.Linear(le_dim, h))
            if fusion == "mlp":                                  # residual: starts as exactly h_G
                nn.init.zeros_(self.fuse[2].weight)
                nn.init.zeros_(self.fuse[2].bias)

    @property
    def has_student(self) -> bool:
        """False for fusion "none"."""
        return self.fusion != "none"

    def student(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T), (B,) -> (B, D) the student's estimate of s_t^LE (with gradient)."""
        if not self.has_student:
            raise ValueError("FusedEncoder: fusion 'none' has no student branch")
        return self.branch(items, lengths)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T), (B,) -> (B, H) the fused state."""
        if self.fusion == "none":
            return self.backbone(items, lengths)
        s_hat = self.student(items, lengths).detach()                       # (B, D) sg: distillation only
        if self.fusion == "le_only":
            return self.fuse(s_hat)
        h_g = self.backbone(items, lengths)                                 # (B, H)
        return h_g + self.fuse(torch.cat([h_g, s_hat], dim=-1))            # (B, H + D) -> (B, H)


def _student_branch(num_items: int, item_vectors, le_dim: int) -> GRU4Rec:
    """GRU4Rec of width D whose item table (pad row 0) starts at ``item_vectors`` when given."""
    branch = GRU4Rec(num_items, le_dim)
    if item_vectors is not None:
        vectors = torch.as_tensor(item_vectors, dtype=torch.float32)
        if tuple(vectors.shape) != (num_items, le_dim):
            raise ValueError(f"item_vectors must have shape (N, D) = ({num_items}, {le_dim}), "
                             f"got {tuple(vectors.shape)}")
        with torch.no_grad():
            branch.embedding.weight[:num_items].copy_(vectors)
    return branch


def distill_loss(student_state: torch.Tensor, le_state: torch.Tensor) -> torch.Tensor:
    """Squared distance of the L2-normalised student and LE states (scale-free, = 2 - 2 cos).

    .. math::
        \\mathcal L_{\\text{distill}}(t) = \\big\\lVert \\hat s_t/\\lVert\\hat s_t\\rVert
        - s^{\\text{LE}}_t/\\lVert s^{\\text{LE}}_t\\rVert \\big\\rVert_2^2

    Args: student_state: (B, D) with gradient. le_state: (B, D) the target. Returns: (B,) in [0, 4].
    Reference: spec-lea-pipeline "Serving" (Proposed).
    Taught in: sec-lea-grid
    """
    diff = F.normalize(student_state, dim=-1) - F.normalize(le_state, dim=-1).detach()  # (B, D)
    return diff.pow(2).sum(dim=-1)
