"""Generalised advantage estimation and masked whitening for token-level PPO.

Tensors are (B, T) over the *generated* tokens only, right-padded: row b is
valid at positions ``0 .. L_b - 1`` (``mask = 1``) and padding after that
(``mask = 0``). The value after the last valid token is 0 (spec-shielded-ppo).

Taught in: sec-ppo-from-scratch
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the positions where ``mask`` is 1 (a token-level mean).

    Args:
        x: (B, T) values.
        mask: (B, T) 1.0 on valid tokens, 0.0 on padding.
    Returns:
        Scalar tensor; every valid token of the batch has the same weight.
    Reference: spec-shielded-ppo (the expectations over t).
    Taught in: sec-ppo-from-scratch
    """
    return (x * mask).sum() / mask.sum()


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
        gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets, one reverse pass over T.

    .. math::
        \\delta_t = r_t + \\gamma V(t+1) - V(t), \\qquad
        \\hat A_t = \\delta_t + \\gamma\\lambda\\,\\hat A_{t+1}, \\qquad
        \\hat R_t = \\hat A_t + V_{\\text{old}}(t)

    with :math:`V(L_b) = 0` and :math:`\\hat A_{L_b} = 0` after the last valid token.

    Args:
        rewards: (B, T) per-token rewards r_t (see :func:`recrl_core.rl.ppo.per_token_rewards`).
        values: (B, T) V_old(t) of the rollout's value head.
        mask: (B, T) 1.0 on valid response tokens, 0.0 on the right padding.
        gamma: discount (1.0 in the book).
        lam: GAE lambda (0.95 in the book).
    Returns:
        ``(advantages, returns)``, both (B, T), detached, 0 on padded positions.
        Whatever ``rewards`` and ``values`` hold on padded positions is ignored.
    Reference: Schulman et al., "High-dimensional continuous control using GAE", 2016;
        spec-shielded-ppo.
    Taught in: sec-ppo-from-scratch
    """
    rewards, values, mask = rewards.detach(), values.detach(), mask.to(values.dtype)
    advantages = torch.zeros_like(values)                          # (B, T)
    next_value = torch.zeros_like(values[:, 0])                    # (B,) V(t+1); 0 past the end
    next_adv = torch.zeros_like(values[:, 0])                      # (B,) A(t+1); 0 past the end
    for t in reversed(range(values.shape[1])):
        m = mask[:, t]                                             # (B,)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        adv = (delta + gamma * lam * next_adv) * m                 # padding: advantage 0
        advantages[:, t] = adv
        next_adv = adv
        next_value = values[:, t] * m                              # V after the last valid token = 0
    returns = (advantages + values) * mask                         # R_t = A_t + V_old(t)
    return advantages, returns


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True,
           eps: float = 1e-8, total: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Normalise ``x`` to mean 0 and standard deviation 1 over the valid positions.

    .. math::
        \\mu = \\frac{\\sum m_t x_t}{\\sum m_t}, \\qquad
        \\sigma^2 = \\frac{\\sum m_t (x_t - \\mu)^2}{\\sum m_t - 1}, \\qquad
        \\tilde x_t = \\frac{x_t - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}\\;(+\\mu \\text{ if not shift\\_mean})

    Args:
        x: (B, T) values, usually advantages.
        mask: (B, T) 1.0 on valid tokens, 0.0 on padding; needs at least 2 valid tokens.
        shift_mean: if False, the mean is added back (scale only).
        eps: added to the variance.
        total: sums a statistic over the processes that hold the rest of the batch
            (``recrl_core.distributed.all_sum``); None: this process holds the whole batch.
    Returns:
        (B, T) whitened values; padded positions are set to 0.
        Choice: the variance is the unbiased (n - 1) sample variance over the valid
        tokens of the whole batch, so the valid entries have sample std 1 exactly
        (up to eps), matching ``torch.std``'s default.
    Reference: spec-shielded-ppo (advantage normalisation is standard PPO practice).
    Taught in: sec-ppo-from-scratch
    """
    total = total or (lambda t: t)
    mask = mask.to(x.dtype)
    n = total(mask.sum())
    mean = total((x * mask).sum()) / n                             # = masked_mean over the whole batch
    var = total((((x - mean) * mask) ** 2).sum()) / (n - 1)        # unbiased, valid tokens only
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out * mask
