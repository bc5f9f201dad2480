"""GRPO's two changes to PPO, as math without a model: a group baseline and the KL in the loss.

GRPO (Shao et al. 2024, DeepSeekMath) samples G replies per prompt and drops the value
head: a reply's advantage is its reward standardised within its group, the same for
every token of the reply; the KL to the reference is not a reward term but a k3 penalty
added to the clipped surrogate, per token (spec-grpo).

.. math::
    \\hat A_i = \\frac{R_i - \\operatorname{mean}(R_{g(i)})}{\\operatorname{std}(R_{g(i)}) + \\epsilon},
    \\qquad
    \\mathcal L = \\mathcal L_{\\text{clip}}(\\hat A) + \\beta\\,\\mathbb E_t\\big[k_3(t)\\big]

Rows ``[g*G, (g+1)*G)`` of a batch are prompt g's group. ``std`` is the unbiased sample
standard deviation and ``epsilon = 1e-4``, as trl's ``GRPOTrainer`` (``scale_rewards="group"``).
The loss is a token-level mean over the valid tokens of a minibatch, as
:func:`recrl_core.rl.ppo.clipped_policy_loss`, so PPO and GRPO normalise alike. The GRPO paper's
Eq. (3) averages each reply over its own length first, then over the group (trl's
``loss_type="grpo"``); trl's default ``"dapo"`` takes the token mean over its whole accumulated
batch, and ``"bnpo"`` over each micro-batch, as here.

Taught in: sec-grpo-same-engine
"""

from __future__ import annotations

import torch

from recrl_core.rl import kl, ppo
from recrl_core.rl.advantages import masked_mean

STD_EPS = 1e-4          # trl GRPOTrainer: advantages / (std + 1e-4)


def group_advantages(scores: torch.Tensor, group_size: int, eps: float = STD_EPS) -> torch.Tensor:
    """Each reply's reward standardised within its prompt's group: (B,) -> (B,).

    A group whose replies all score the same gets advantage 0 for every reply: it teaches nothing.
    """
    if group_size < 2 or scores.numel() % group_size:
        raise ValueError(f"group_size must be >= 2 and divide the batch ({scores.numel()}), got {group_size}")
    groups = scores.detach().to(torch.float32).view(-1, group_size)                 # (B/G, G)
    adv = (groups - groups.mean(1, keepdim=True)) / (groups.std(1, keepdim=True) + eps)
    return adv.view(-1)


def grpo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
              advantages: torch.Tensor, mask: torch.Tensor, clip_range: float,
              beta: float) -> tuple[torch.Tensor, dict]:
    """Clipped surrogate with one advantage per reply, plus β times the k3 KL, token-level means.

    Args:
        logprobs: (B, T) current policy, with gradient (the k3 term's gradient flows through it).
        old_logprobs: (B, T) the sampling policy (constant).
        ref_logprobs: (B, T) the reference, adapter off (constant).
        advantages: (B,) from :func:`group_advantages`, broadcast over the reply's tokens.
        mask: (B, T) 1.0 on valid tokens.
        clip_range: epsilon; beta: the KL coefficient.
    Returns:
        ``(loss, stats)`` with the stats of the clipped surrogate plus ``losses/kl`` (k3 per token).
    Reference: Shao et al. 2024, Eq. (3) (normalised per token, see the module docstring);
        trl ``GRPOTrainer._compute_loss``; spec-grpo.
    """
    adv = advantages.detach()[:, None].expand_as(logprobs)                          # (B, T)
    loss_pi, stats = ppo.clipped_policy_loss(logprobs, old_logprobs, adv, mask, clip_range)
    kl_term = masked_mean(kl.kl_k3(logprobs, ref_logprobs.detach()), mask.to(logprobs.dtype))
    return loss_pi + beta * kl_term, stats | {"losses/kl": kl_term.detach()}
