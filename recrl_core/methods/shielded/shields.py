"""Gradient shields between a frozen ranker and a trained explainer, and ranking drift.

Shielded RecRL trains an explainer next to a recommender whose ranking must not
change. Three ways to arrange that, measured in the book:

* **hard shield** — :func:`hard_shield` freezes the ranker's parameters and its
  outputs are computed without a graph; :class:`GradientProbe` counts any gradient
  that still reaches it and :func:`fingerprint` proves the weights bitwise unchanged;
* **projection shield** — the explainer may tune the ranker's *output item
  embeddings* ``W`` (N, H) that it also reads; every gradient is projected so that
  the scores ``s_u = W h_u + b`` of the protected user states ``h_u`` do not move:

  .. math::
      G \\leftarrow G - G Q Q^{\\top}, \\qquad Q = \\text{orthonormal basis of } \\operatorname{span}\\{h_u\\}

  Scores are linear in ``W``, so ``Δs_u = ΔW h_u = 0`` for every ``h_u`` in the span —
  exactly, not only to first order. When the states span all H dimensions the only
  admissible step is zero: the projection becomes a freeze. (The public code took
  ``Q`` from the item-embedding matrix, whose space does not match the LoRA
  gradients, and commented the step out; spec-shielded-public-code.)
* **no shield** — the same trainable ``W`` with raw gradients.

Spec: spec-shielded-shields (book/appendix/shielded.md).
Taught in: sec-two-towers
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from recrl_core.caching import tensor_digest


def fingerprint(module: nn.Module) -> str:
    """SHA-256 over every parameter and buffer of ``module`` (``caching.tensor_digest`` of its state dict)."""
    return tensor_digest(module.state_dict())


def hard_shield(module: nn.Module) -> nn.Module:
    """The hard shield: eval mode, no parameter requires a gradient."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class GradientProbe:
    """Counts gradients reaching ``module``: hooks on trainable parameters and on every submodule."""

    def __init__(self, module: nn.Module):
        self.events = 0
        self._handles = [p.register_hook(self._count) for p in module.parameters() if p.requires_grad]
        self._handles += [m.register_full_backward_hook(self._count_module) for m in module.modules()
                          if not list(m.children())]

    def _count(self, grad: torch.Tensor) -> None:
        self.events += 1

    def _count_module(self, module, grad_input, grad_output) -> None:
        self.events += 1

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def state_basis(states: torch.Tensor, energy: float = 1.0, tol: float = 1e-6) -> torch.Tensor:
    """(M, H) protected states -> (H, r) orthonormal basis of their span.

    ``energy`` < 1 keeps only the leading directions that carry that share of the
    squared singular values (a *partial* shield that leaves room to move).
    """
    _, sigma, vh = torch.linalg.svd(states.double(), full_matrices=False)   # vh (min(M,H), H)
    keep = sigma > tol * sigma.max()
    if energy < 1.0:
        share = torch.cumsum(sigma**2, 0) / (sigma**2).sum()
        keep &= torch.arange(len(sigma)) <= int(torch.searchsorted(share, torch.tensor(energy, dtype=share.dtype)))
    return vh[keep].T.to(states.dtype)                                         # (H, r)


def project_out(grad: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """(N, H) gradient with every row's component in span(basis) removed."""
    return grad - (grad @ basis) @ basis.T


class ProjectionShield:
    """Projects every gradient of ``weight`` (N, H) onto the complement of ``basis`` (H, r)."""

    def __init__(self, weight: torch.Tensor, basis: torch.Tensor):
        self.basis = basis.to(weight.dtype)
        self._handle = weight.register_hook(lambda g: project_out(g, self.basis))

    def remove(self) -> None:
        self._handle.remove()


def ranking_drift(before: torch.Tensor, after: torch.Tensor, k: int = 10) -> dict[str, float]:
    """How much a ranking moved: (U, N) scores before and after -> summary.

    ``overlap@k`` mean share of each user's top-k kept; ``same_list@k`` share of users
    whose ordered top-k is identical; ``kendall_tau`` mean rank correlation of each
    user's full score vector; ``max_abs_change`` largest score change.
    """
    from scipy.stats import kendalltau

    top_b, top_a = before.topk(k, dim=1).indices, after.topk(k, dim=1).indices      # (U, k)
    overlap = np.mean([len(set(b.tolist()) & set(a.tolist())) / k for b, a in zip(top_b, top_a)])
    same = (top_b == top_a).all(dim=1).double().mean()
    tau = np.mean([kendalltau(b.numpy(), a.numpy()).statistic for b, a in zip(before.double(), after.double())])
    return {f"overlap@{k}": float(overlap), f"same_list@{k}": float(same),
            "kendall_tau": float(tau), "max_abs_change": float((after - before).abs().max())}
