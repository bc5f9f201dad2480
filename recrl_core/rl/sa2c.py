"""SNQN and SA2C: negative Q-learning, and an advantage-weighted supervised actor.

Negatives (spec-snqn-sa2c): each sampled item :math:`a^-_j` is a transition that
leaves the user in the **same state** with reward :math:`r^- = 0`, so its target
bootstraps from :math:`s_t` and carries **no terminal mask**:

.. math::
    \\mathcal L_q^{-}(t,j) = \\tfrac12\\Big(r^- + \\gamma\\,Q_{\\text{tgt}}\\big(s_t,
    \\arg\\max_a Q_{\\text{main}}(s_t,a)\\big) - Q_{\\text{main}}(s_t,a^-_j)\\Big)^2

Taught in: sec-snqn-sa2c
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch

from recrl_core.config import Mode
from recrl_core.rl import targets
from recrl_core.rl.sqn import q_loss, supervised_loss

ADVANTAGE_MAX = 10.0                 # upper clip of A_t (Public code: Code/SA2C.py)
PROPENSITY_RANGE = (0.1, 10.0)       # clip of pi / beta (Public code: Code/SA2C.py)


@dataclass(frozen=True)
class SA2CConfig:
    gamma: float = 0.5            # discount (Public code: --discount)
    reward_click: float = 0.2     # reward of a click-like event (Public code: --r_click)
    reward_buy: float = 1.0       # reward of a purchase-like event (Public code: --r_buy)
    reward_negative: float = 0.0  # reward of a sampled negative (Public code: --r_negative)
    lr: float = 0.01              # Adam, phase 1 (Public code: --lr, RC15; 0.005 on RetailRocket)
    lr_2: float = 0.001           # second Adam, phase 2 (Public code: --lr_2)
    num_negatives: int = 10       # N negatives per positive (Public code: SA2C argparse)
    weight_q: float = 1.0         # w_q on the Q losses in SNQN / SA2C phase 2 (Public code: --weight)
    smooth: float = 0.0           # kappa, exponent of the propensity weight (Public code: --smooth)
    clip: float = 0.0             # c, lower clip of the advantage (Public code: --clip)
    batch_size: int = 256         # transitions per update (Public code: SA2C argparse)
    epochs: int = 50              # passes over the replay rows (Public code: SA2C argparse)
    warmup_steps: int = 15_000    # phase-1 updates before the advantage actor (Public code: Code/SA2C.py l.463)
    eval_every: int = 4_000       # updates between validation passes (Public code: Code/SA2C.py)
    seed: int = 0                 # network init, replay order, negatives, role draws

    # warmup_steps is a size for the reason given in SQNConfig: the two-phase structure is
    # kept in every mode, its length scales with the run (full: 15,000 of ~195,000 updates
    # on RC15, ~8 %). num_negatives is a size (spec-run-sizes) but kept at 10 in every mode.
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_size", "epochs", "warmup_steps", "eval_every",
                                              "num_negatives")

    @classmethod
    def for_mode(cls, mode: Mode) -> "SA2CConfig":
        """Full = the defaults; book and smoke shrink only ``SIZE_FIELDS``."""
        sizes = {
            Mode.FULL: {},
            # Fantasy|Romance slice: ~20k training rows -> ~78 updates/epoch, ~780 in 10 epochs;
            # 60 warm-up updates ~ 8 %, the full-run share.
            Mode.BOOK: dict(epochs=10, warmup_steps=60, eval_every=100),
            # smoke slice: ~1,000 rows at batch 64 -> ~15 updates; warm-up 5 so phase 2 runs too.
            Mode.SMOKE: dict(batch_size=64, epochs=1, warmup_steps=5, eval_every=5),
        }[mode]
        return replace(cls(), **sizes)


def negative_q_loss(q: torch.Tensor, neg_actions: torch.Tensor, q_curr_main: torch.Tensor,
                    q_curr_target: torch.Tensor, gamma: float,
                    reward_negative: float = 0.0) -> torch.Tensor:
    """Sum over a row's negatives of ½(y⁻ − Q(s_t, a⁻_j))², bootstrapping from the current state.

    Args:
        q: (B, N) main network's Q(s_t, .) (with gradient).
        neg_actions: (B, K) int64 sampled negatives.
        q_curr_main: (B, N) main network's Q(s_t, .) without gradient (selector).
        q_curr_target: (B, N) target network's Q(s_t, .).
        gamma: discount.
        reward_negative: r⁻ (0.0 in the reference code).
    Returns:
        (B,) :math:`\\sum_j \\mathcal L_q^-(t, j)`; no terminal mask (the user stays in s_t).
    Reference: Xin et al., WSDM 2022 (SNQN); spec-snqn-sa2c.
    Taught in: sec-snqn-sa2c
    """
    zeros = torch.zeros(q.shape[0], dtype=q.dtype, device=q.device)
    y_neg = targets.double_q_target(zeros + reward_negative, zeros, q_curr_main, q_curr_target, gamma)
    q_neg = q.gather(-1, neg_actions)                                    # (B, K)
    return (0.5 * (y_neg.detach().unsqueeze(-1) - q_neg) ** 2).sum(dim=1)  # (B, K) -> (B,)


def snqn_loss(logits, q, action, reward, done, neg_actions, q_next_main, q_next_target,
              q_curr_main, q_curr_target, gamma: float, weight_q: float,
              reward_negative: float = 0.0) -> dict[str, torch.Tensor]:
    """SNQN: cross-entropy plus weighted positive and negative double-Q losses.

    .. math::
        \\mathcal L_{\\text{SNQN}} = \\operatorname{mean}_B\\Big(w_q\\big(\\mathcal L_q^{+}(t)
        + \\textstyle\\sum_{j}\\mathcal L_q^{-}(t,j)\\big) + \\mathcal L_s(t)\\Big)

    Args:
        logits, q: (B, N) main network's outputs at s_t.
        action, reward, done: (B,) positive transition.
        neg_actions: (B, K) negatives.
        q_next_main, q_next_target: (B, N) Q at s_{t+1} (main selects, target values).
        q_curr_main, q_curr_target: (B, N) Q at s_t without gradient, for the negatives.
        gamma, weight_q, reward_negative: discount, w_q, r⁻.
    Returns:
        ``{"loss", "supervised", "q", "q_neg"}``: the loss with gradient and the
        detached batch means of L_s, L_q⁺ and Σ_j L_q⁻.
    Reference: Xin et al., WSDM 2022; spec-snqn-sa2c.
    Taught in: sec-snqn-sa2c
    """
    ls, lq, lneg = _snqn_parts(logits, q, action, reward, done, neg_actions, q_next_main,
                               q_next_target, q_curr_main, q_curr_target, gamma, reward_negative)
    return {"loss": (weight_q * (lq + lneg) + ls).mean(), **_logged(ls, lq, lneg)}


def sa2c_advantage(q: torch.Tensor, action: torch.Tensor, neg_actions: torch.Tensor,
                   clip: float) -> torch.Tensor:
    """Advantage of the logged item over the mean of it and its negatives (stop-gradient).

    .. math::
        \\bar Q_t = \\tfrac{1}{K+1}\\Big(Q(s_t,a_t) + \\textstyle\\sum_j Q(s_t,a^-_j)\\Big), \\qquad
        A_t = \\operatorname{clip}\\big(Q(s_t,a_t) - \\bar Q_t,\\; c,\\; 10\\big)

    Args:
        q: (B, N) main network's Q(s_t, .); detached here.
        action: (B,) logged items; neg_actions: (B, K) negatives.
        clip: c, the lower clip (0.0: only better-than-average items are imitated).
    Returns:
        (B,) A_t without gradient.
    Reference: Xin et al., WSDM 2022 (SA2C); spec-snqn-sa2c.
    Taught in: sec-snqn-sa2c
    """
    q = q.detach()
    q_pos = q.gather(-1, action.unsqueeze(-1))                           # (B, 1)
    q_all = torch.cat([q_pos, q.gather(-1, neg_actions)], dim=1)         # (B, 1 + K)
    return (q_pos.squeeze(-1) - q_all.mean(dim=1)).clamp(clip, ADVANTAGE_MAX)


def propensity_weight(logits: torch.Tensor, action: torch.Tensor, item_prob: torch.Tensor | None,
                      smooth: float) -> torch.Tensor:
    """Clipped, smoothed ratio of the policy's to the logging (popularity) probability.

    .. math::
        \\pi(a_t\\mid s_t) = \\operatorname{softmax}(\\operatorname{sg}(z_t))[a_t], \\qquad
        w_t = \\operatorname{clip}\\big(\\pi(a_t\\mid s_t)/\\beta(a_t),\\, 0.1,\\, 10\\big)^{\\kappa}

    Args:
        logits: (B, N) supervised logits z_t; detached here.
        action: (B,) logged items.
        item_prob: (N,) beta(a) = count(a) / #events (popularity); may be None when smooth = 0.
        smooth: kappa; 0.0 gives w_t = 1.
    Returns:
        (B,) weights without gradient.
    Reference: Xin et al., WSDM 2022 (SA2C); spec-snqn-sa2c.
    Taught in: sec-snqn-sa2c
    """
    if item_prob is None:
        if smooth != 0.0:
            raise ValueError(f"propensity_weight: smooth={smooth} needs item_prob (item popularity)")
        return torch.ones(action.shape[0], dtype=logits.dtype, device=logits.device)
    pi = torch.softmax(logits.detach(), dim=-1).gather(-1, action.unsqueeze(-1)).squeeze(-1)  # (B,)
    return (pi / item_prob[action]).clamp(*PROPENSITY_RANGE) ** smooth


def sa2c_loss(logits, q, action, reward, done, neg_actions, q_next_main, q_next_target,
              q_curr_main, q_curr_target, item_prob, gamma: float, weight_q: float, clip: float,
              smooth: float, *, phase: int, reward_negative: float = 0.0) -> dict[str, torch.Tensor]:
    """SA2C: phase 1 (warm-up) trains L_s + Q losses; phase 2 weights L_s by A_t · w_t.

    .. math::
        \\mathcal L^{(1)} = \\operatorname{mean}_B\\Big(\\mathcal L_q^{+} + \\textstyle\\sum_j
        \\mathcal L_q^{-}(j) + \\mathcal L_s\\Big), \\qquad
        \\mathcal L^{(2)} = \\operatorname{mean}_B\\Big(w_q\\big(\\mathcal L_q^{+} + \\textstyle\\sum_j
        \\mathcal L_q^{-}(j)\\big) + A_t\\, w_t\\, \\mathcal L_s\\Big)

    Args:
        logits ... q_curr_target, gamma, weight_q, reward_negative: as :func:`snqn_loss`.
        item_prob: (N,) popularity beta; clip: c; smooth: kappa.
        phase: 1 during warm-up (``step < cfg.warmup_steps``), 2 afterwards.
    Returns:
        ``{"loss", "supervised", "q", "q_neg", "advantage_mean", "propensity_mean"}``;
        all but ``loss`` detached (computed in both phases, for logging).
    Reference: Xin et al., WSDM 2022; spec-snqn-sa2c, spec-training-loop.
    Taught in: sec-snqn-sa2c
    """
    if phase not in (1, 2):
        raise ValueError(f"SA2C phase must be 1 (warm-up) or 2, got {phase}")
    ls, lq, lneg = _snqn_parts(logits, q, action, reward, done, neg_actions, q_next_main,
                               q_next_target, q_curr_main, q_curr_target, gamma, reward_negative)
    adv = sa2c_advantage(q, action, neg_actions, clip)
    prop = propensity_weight(logits, action, item_prob, smooth)
    per_row = lq + lneg + ls if phase == 1 else weight_q * (lq + lneg) + adv * prop * ls
    return {"loss": per_row.mean(), **_logged(ls, lq, lneg),
            "advantage_mean": adv.mean(), "propensity_mean": prop.mean()}


def _snqn_parts(logits, q, action, reward, done, neg_actions, q_next_main, q_next_target,
                q_curr_main, q_curr_target, gamma, reward_negative):
    """(L_s, L_q⁺, Σ_j L_q⁻), each (B,)."""
    y = targets.double_q_target(reward, done, q_next_main, q_next_target, gamma)
    lneg = negative_q_loss(q, neg_actions, q_curr_main, q_curr_target, gamma, reward_negative)
    return supervised_loss(logits, action), q_loss(q, action, y), lneg


def _logged(ls, lq, lneg) -> dict[str, torch.Tensor]:
    return {"supervised": ls.mean().detach(), "q": lq.mean().detach(), "q_neg": lneg.mean().detach()}
