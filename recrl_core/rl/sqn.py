"""SQN and SAC: a supervised (cross-entropy) head and a double-Q head on one encoder.

Per row (spec-base), with :math:`y_t` from
:func:`recrl_core.rl.targets.double_q_target`:

.. math::
    \\mathcal L_s = -\\log \\operatorname{softmax}(z_t)[a_t], \\qquad
    \\mathcal L_q = \\tfrac12\\big(\\operatorname{sg}(y_t) - Q_{\\text{main}}(s_t, a_t)\\big)^2

.. math::
    \\mathcal L_{\\text{SQN}} = \\operatorname{mean}_B(\\mathcal L_s + \\mathcal L_q), \\qquad
    \\mathcal L_{\\text{SAC}} = \\operatorname{mean}_B\\big(
    \\operatorname{sg}(Q_{\\text{main}}(s_t,a_t))\\,\\mathcal L_s + \\mathcal L_q\\big)

Taught in: sec-sqn-sac
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
import torch.nn.functional as F

from recrl_core.config import Mode
from recrl_core.rl import targets


@dataclass(frozen=True)
class SQNConfig:
    gamma: float = 0.5            # discount (Public code: --discount)
    reward_click: float = 0.2     # reward of a click-like event (Public code: --r_click)
    reward_buy: float = 1.0       # reward of a purchase-like event (Public code: --r_buy)
    lr: float = 0.01              # Adam learning rate (Public code: --lr, RC15 files)
    batch_size: int = 256         # transitions per update (Public code: --batch_size)
    epochs: int = 30              # passes over the replay rows (Public code: RC15 GRU_TH.py)
    warmup_steps: int = 15_000    # SAC only: L_s + L_q updates before Q-weighting (Proposed; spec-uncertain)
    eval_every: int = 2_000       # updates between validation passes (Public code: GRU_TH.py)
    seed: int = 0                 # network init, replay order, role draws

    # warmup_steps is a size: warm-up *structure* (L_s + L_q first, then Q-weighted) is
    # semantics and exists in every mode, but its *length* is counted in updates, and a
    # smoke or book run has 1-2 % of the updates of a full run. The warm-up is scaled to
    # keep roughly the same share of training (full: 15,000 of ~117,000 updates on RC15).
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_size", "epochs", "warmup_steps", "eval_every")

    @classmethod
    def for_mode(cls, mode: Mode) -> "SQNConfig":
        """Full = the defaults; book and smoke shrink only ``SIZE_FIELDS``."""
        sizes = {
            Mode.FULL: {},
            # Fantasy|Romance slice: ~20k training rows -> ~78 updates/epoch, ~780 in 10 epochs;
            # 100 warm-up updates ~ 13 %, the full-run share.
            Mode.BOOK: dict(epochs=10, warmup_steps=100, eval_every=100),
            # smoke slice: ~1,000 rows at batch 64 -> ~15 updates; warm-up 5 so phase 2 runs too.
            Mode.SMOKE: dict(batch_size=64, epochs=1, warmup_steps=5, eval_every=5),
        }[mode]
        return replace(cls(), **sizes)


def supervised_loss(logits: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy of the logged item.

    .. math::
        \\mathcal L_s(t) = -\\log \\operatorname{softmax}(z_t)[a_t]

    Args:
        logits: (B, N) supervised-head logits z_t.
        action: (B,) int64 logged items a_t.
    Returns:
        (B,) losses.
    Reference: Xin et al., SIGIR 2020; spec-sqn.
    Taught in: sec-sqn-sac
    """
    return F.cross_entropy(logits, action, reduction="none")


def q_loss(q: torch.Tensor, action: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row half squared TD error; the target is a constant.

    .. math::
        \\mathcal L_q(t) = \\tfrac12\\big(\\operatorname{sg}(y_t) - Q(s_t, a_t)\\big)^2

    Args:
        q: (B, N) Q(s_t, .) of the main network (with gradient).
        action: (B,) int64 actions whose value is regressed.
        target: (B,) y_t; detached here.
    Returns:
        (B,) losses. The ½ matches ``trfl.double_qlearning`` (0.5 TD²).
    Reference: Xin et al., SIGIR 2020; spec-sqn.
    Taught in: sec-sqn-sac
    """
    q_taken = q.gather(-1, action.unsqueeze(-1)).squeeze(-1)             # (B,)
    return 0.5 * (target.detach() - q_taken) ** 2


def _sqn_parts(logits, q, action, reward, done, q_next_main, q_next_target, gamma):
    """(L_s (B,), L_q (B,)) shared by SQN and SAC."""
    y = targets.double_q_target(reward, done, q_next_main, q_next_target, gamma)
    return supervised_loss(logits, action), q_loss(q, action, y)


def sqn_loss(logits: torch.Tensor, q: torch.Tensor, action: torch.Tensor,
             reward: torch.Tensor, done: torch.Tensor, q_next_main: torch.Tensor,
             q_next_target: torch.Tensor, gamma: float) -> dict[str, torch.Tensor]:
    """SQN: cross-entropy plus the double-Q TD loss, averaged over the batch.

    .. math::
        \\mathcal L_{\\text{SQN}} = \\operatorname{mean}_B\\big(\\mathcal L_s(t) + \\mathcal L_q(t)\\big)

    Args:
        logits: (B, N) supervised logits of the main network at s_t.
        q: (B, N) Q-values of the main network at s_t.
        action, reward, done: (B,) a_t (int64), r_t, d_t.
        q_next_main: (B, N) main network's Q at s_{t+1} (selector; no gradient needed).
        q_next_target: (B, N) target network's Q at s_{t+1}.
        gamma: discount.
    Returns:
        ``{"loss": scalar with gradient, "supervised": mean L_s, "q": mean L_q}``
        (the parts are detached, for logging).
    Reference: Xin et al., SIGIR 2020; spec-sqn.
    Taught in: sec-sqn-sac
    """
    ls, lq = _sqn_parts(logits, q, action, reward, done, q_next_main, q_next_target, gamma)
    return {"loss": (ls + lq).mean(), "supervised": ls.mean().detach(), "q": lq.mean().detach()}


def sac_loss(logits: torch.Tensor, q: torch.Tensor, action: torch.Tensor,
             reward: torch.Tensor, done: torch.Tensor, q_next_main: torch.Tensor,
             q_next_target: torch.Tensor, gamma: float, *, warm: bool) -> dict[str, torch.Tensor]:
    """SAC: the cross-entropy weighted by the (stop-gradient) Q-value of the logged item.

    .. math::
        \\mathcal L_{\\text{SAC}} = \\operatorname{mean}_B\\big(
        \\operatorname{sg}(Q_{\\text{main}}(s_t, a_t))\\,\\mathcal L_s(t) + \\mathcal L_q(t)\\big)

    During warm-up the weight is 1, i.e. the SQN loss.

    Args:
        logits, q, action, reward, done, q_next_main, q_next_target, gamma: as
            :func:`sqn_loss`.
        warm: True while **in** warm-up (``step < cfg.warmup_steps``): loss L_s + L_q;
            False afterwards: Q-weighted L_s + L_q.
    Returns:
        ``{"loss", "supervised", "q", "q_weight_mean"}``; the parts are detached.
    Reference: Xin et al., SIGIR 2020 (SAC); spec-sac.
    Taught in: sec-sqn-sac
    """
    ls, lq = _sqn_parts(logits, q, action, reward, done, q_next_main, q_next_target, gamma)
    if warm:
        weight = torch.ones_like(ls)
    else:
        weight = q.detach().gather(-1, action.unsqueeze(-1)).squeeze(-1)    # (B,) sg(Q(s,a))
    return {"loss": (weight * ls + lq).mean(), "supervised": ls.mean().detach(),
            "q": lq.mean().detach(), "q_weight_mean": weight.mean()}
