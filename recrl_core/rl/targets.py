"""Bootstrap targets for Q-learning: one-step TD, double-Q, and Polyak-averaged target networks.

Both functions are plain arithmetic on tensors. They do not detach: the
losses treat the target as a constant (``sg``), and the training loop computes
the next-state Q-values under ``torch.no_grad()`` (spec-sqn, spec-training-loop).

Taught in: sec-recommendation-as-mdp
"""

from __future__ import annotations

import torch


def td_target(reward: torch.Tensor, done: torch.Tensor, q_next: torch.Tensor,
              gamma: float) -> torch.Tensor:
    """One-step TD target with a terminal mask.

    .. math::
        y_t = r_t + \\gamma\\,(1 - d_t)\\,q_{t+1}

    Args:
        reward: (B,) r_t.
        done: (B,) d_t, 1.0 at the last event of a sequence, else 0.0.
        q_next: (B,) the bootstrap value q_{t+1} already chosen for each row.
        gamma: discount.
    Returns:
        (B,) targets y_t.
    Reference: Xin et al., SIGIR 2020 (SQN); spec-sqn.
    Taught in: sec-recommendation-as-mdp
    """
    return reward + gamma * (1.0 - done) * q_next


def double_q_target(reward: torch.Tensor, done: torch.Tensor, q_next_main: torch.Tensor,
                    q_next_target: torch.Tensor, gamma: float) -> torch.Tensor:
    """Double-Q target: the main network picks the next action, the target network values it.

    .. math::
        a^{*} = \\arg\\max_a Q_{\\text{main}}(s_{t+1}, a), \\qquad
        y_t = r_t + \\gamma\\,(1 - d_t)\\,Q_{\\text{tgt}}(s_{t+1}, a^{*})

    Args:
        reward: (B,) r_t.
        done: (B,) d_t in {0.0, 1.0}.
        q_next_main: (B, N) Q_main(s_{t+1}, .), the selector.
        q_next_target: (B, N) Q_tgt(s_{t+1}, .), the evaluator.
        gamma: discount.
    Returns:
        (B,) targets y_t. SNQN's negative target is this function with
        ``reward = 0``, ``done = 0`` and Q-values of the *current* state.
    Reference: van Hasselt et al., AAAI 2016 (double Q-learning); Xin et al.,
        SIGIR 2020, Eq. for L_q; spec-sqn.
    Taught in: sec-recommendation-as-mdp
    """
    best = q_next_main.argmax(dim=-1, keepdim=True)             # (B, 1) selector from the main net
    q_best = q_next_target.gather(-1, best).squeeze(-1)         # (B,)   value from the target net
    return td_target(reward, done, q_best, gamma)


@torch.no_grad()
def polyak_update(target: torch.nn.Module, source: torch.nn.Module, tau: float) -> None:
    """Move every target parameter a step ``tau`` towards the source's (in place).

    .. math::
        \\bar\\phi \\leftarrow (1 - \\tau)\\,\\bar\\phi + \\tau\\,\\phi

    Args:
        target, source: modules with the same parameter names and shapes.
        tau: in (0, 1]; 1 copies the source.
    Reference: Lillicrap et al., 2016 (DDPG); lightATAC (tau = 5e-3); spec-atac.
    Taught in: sec-laac-critic
    """
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        t.mul_(1.0 - tau).add_(s, alpha=tau)
