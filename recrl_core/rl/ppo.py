"""Token-level PPO with a per-token KL penalty: the math, without a model.

Per-token rewards (score at the last generated token minus β·KL), the clipped
surrogate, the clipped value loss and the KL coefficient controllers
(spec-shielded-ppo, spec-kl-estimators). GAE and whitening live in
:mod:`recrl_core.rl.advantages`; the KL estimators in :mod:`recrl_core.rl.kl`.
All tensors are (B, T) over generated tokens, right-padded, with ``mask``
1.0 on valid tokens; every loss is a token-level mean over valid tokens.

.. math::
    \\mathcal L = \\mathcal L_{\\text{clip}} + c_V\\,\\mathcal L_V

Taught in: sec-ppo-from-scratch, sec-kl-penalty
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch

from recrl_core.config import Mode
from recrl_core.rl import kl
from recrl_core.rl.advantages import masked_mean

ESTIMATORS = {"k1": kl.kl_k1, "k3": kl.kl_k3}


@dataclass(frozen=True)
class PPOConfig:
    lr: float = 3e-5               # Adam learning rate (Public code: shielded_ppo_trainer.py)
    updates: int = 64              # rollouts, one PPO update each (Proposed: the paper runs 2-20k steps)
    rollout_batch: int = 32        # prompts per rollout (Public code: sim_batch)
    ppo_epochs: int = 4            # passes over each rollout batch (Proposed; spec-shielded-ppo)
    minibatch_size: int = 4        # rows per forward/backward (Public code: micro-batch 4)
    grad_accum: int = 2            # minibatches per optimizer step (Public code: grad-accum 2)
    max_new_tokens: int = 40       # generated tokens per rollout (Public code: recrl_default.yaml)
    temperature: float = 0.7       # sampling temperature (Public code: recrl_default.yaml)
    top_p: float = 1.0             # samples from pi itself (spec-generation-defaults; Public code: 0.9; spec-uncertain)
    kl_coef: float = 0.05          # beta_KL, initial value if adaptive (Public code: kl_beta)
    kl_estimator: str = "k1"       # "k1" | "k3", enters the reward (spec-llm-conventions)
    gamma: float = 1.0             # token-level discount (Proposed; spec-shielded-ppo)
    lam: float = 0.95              # GAE lambda (Proposed; Public code defines it, unused)
    clip_range: float = 0.2        # policy ratio clip eps (Public code: ppo_core.py)
    value_clip_range: float = 0.2  # value clip around V_old (Proposed; standard PPO-for-LMs recipe)
    vf_coef: float = 0.5           # c_V in [0.5, 1.0] (Proposed; spec-shielded-ppo)
    max_grad_norm: float = 1.0     # gradient-norm clip (Public code: shielded_ppo_trainer.py)
    adaptive_kl: bool = False      # False = FixedKL(kl_coef); True = AdaptiveKL (Proposed)
    kl_target: float = 6.0         # nats per sequence, adaptive only (Proposed; Ziegler et al. 2019 controller)
    kl_horizon: int = 10_000       # controller horizon in rollouts, adaptive only (Proposed)
    seed: int = 0                  # LoRA init, rollout sampling, minibatch order (spec-determinism)

    # Sizes only: how many rollouts, how large, and how they are cut into minibatches.
    # Generation settings of RL rollouts (max_new_tokens, temperature, top_p) are semantics
    # (spec-run-sizes) and equal in every mode, as are lr, beta, gamma, lambda and the clips.
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("updates", "rollout_batch", "ppo_epochs", "minibatch_size",
                                              "grad_accum")

    def __post_init__(self):
        if self.kl_estimator not in ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {sorted(ESTIMATORS)}, "
                             f"got {self.kl_estimator!r}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "PPOConfig":
        """Full = the defaults; book and smoke shrink only ``SIZE_FIELDS``."""
        sizes = {
            Mode.FULL: {},
            # 6 rollouts of 16 prompts -> 2 optimizer steps of 4 x 2 rows per epoch, 2 epochs.
            Mode.BOOK: dict(updates=6, rollout_batch=16, ppo_epochs=2),
            # 2 rollouts of 4 prompts -> 2 optimizer steps of 2 rows, 1 epoch: every code path, seconds.
            Mode.SMOKE: dict(updates=2, rollout_batch=4, ppo_epochs=1, minibatch_size=2, grad_accum=1),
        }[mode]
        return replace(cls(), **sizes)


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last valid token of each row, read from the mask (never from pad ids).

    Args:
        mask: (B, T) 1.0 on valid tokens; each row needs at least one.
    Returns:
        (B,) int64 indices.
    Taught in: sec-kl-penalty
    """
    if not bool((mask.sum(dim=1) > 0).all()):
        raise ValueError("every row needs at least one valid token")
    T = mask.shape[1]
    return T - 1 - mask.flip(dims=[1]).to(torch.float32).argmax(dim=1)   # first 1 from the right


def per_token_rewards(score: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                      mask: torch.Tensor, kl_coef: float,
                      estimator: str = "k1") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token reward: −β·KL on every valid token, plus the score on the last one.

    .. math::
        r_t = -\\beta_{\\text{KL}}\\,\\widehat{\\mathrm{KL}}_t + \\mathbb 1[t = T_b]\\,R(x, y)

    Args:
        score: (B,) sequence-level reward R(x, y).
        logprobs: (B, T) rollout-policy log-probabilities of the generated tokens.
        ref_logprobs: (B, T) the same tokens under the reference.
        mask: (B, T) 1.0 on valid response tokens, 0.0 on right padding.
        kl_coef: beta_KL.
        estimator: "k1" or "k3" (:mod:`recrl_core.rl.kl`).
    Returns:
        ``(rewards, kl)``, both (B, T), detached, 0 on padding. The logged
        ``objective/non_score_reward`` is ``-kl_coef * kl`` summed per row.
    Reference: Ziegler et al. 2019 (KL-penalised reward); spec-shielded-ppo; spec-kl-estimators.
    Taught in: sec-kl-penalty
    """
    mask = mask.to(logprobs.dtype)
    kl_t = ESTIMATORS[estimator](logprobs.detach(), ref_logprobs.detach()) * mask   # (B, T)
    last = last_token_index(mask)                                                   # (B,)
    score_t = torch.zeros_like(kl_t).scatter(1, last[:, None], score.detach().to(kl_t.dtype)[:, None])
    return -kl_coef * kl_t + score_t, kl_t


def clipped_policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                        mask: torch.Tensor, clip_range: float) -> tuple[torch.Tensor, dict]:
    """PPO clipped surrogate, a token-level mean over valid tokens.

    .. math::
        \\rho_t = e^{\\log\\pi_\\theta(y_t) - \\log\\pi_{\\theta_{\\text{old}}}(y_t)}, \\qquad
        \\mathcal L_{\\text{clip}} = -\\mathbb E_t\\big[\\min(\\rho_t \\hat A_t,\\;
        \\operatorname{clip}(\\rho_t, 1-\\epsilon, 1+\\epsilon)\\,\\hat A_t)\\big]

    Args:
        logprobs: (B, T) current policy, with gradient.
        old_logprobs: (B, T) rollout policy (constant).
        advantages: (B, T) A_t (constant; usually whitened).
        mask: (B, T) 1.0 on valid tokens.
        clip_range: epsilon.
    Returns:
        ``(loss, stats)``: scalar loss with gradient; detached stats
        ``losses/policy``; ``ppo/clipfrac`` = share of valid tokens where the clipped
        term is the active one (its gradient is 0); ``ppo/approx_kl`` =
        mean ½(log ρ_t)², a second-order estimate of KL(π_old ‖ π_θ) (Schulman's k2).
    Reference: Schulman et al. 2017, Eq. (7); Schulman, "Approximating KL divergence";
        spec-shielded-ppo.
    Taught in: sec-ppo-from-scratch
    """
    mask = mask.to(logprobs.dtype)
    advantages = advantages.detach()
    logratio = logprobs - old_logprobs.detach()                                      # (B, T)
    ratio = torch.exp(logratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)       # max of negatives = -min
    stats = {"losses/policy": loss.detach(),
             "ppo/clipfrac": masked_mean((clipped > unclipped).to(mask.dtype), mask).detach(),
             "ppo/approx_kl": masked_mean(0.5 * logratio.detach() ** 2, mask)}
    return loss, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip_range: float) -> tuple[torch.Tensor, dict]:
    """Clipped value loss: ½ times the larger of the clipped and unclipped squared errors.

    .. math::
        V^{\\text{clip}}_t = V_{\\text{old}}(t)
        + \\operatorname{clip}(V_\\psi(t) - V_{\\text{old}}(t), -\\epsilon_V, \\epsilon_V), \\qquad
        \\mathcal L_V = \\tfrac12\\,\\mathbb E_t\\big[\\max\\big((V_\\psi(t) - \\hat R_t)^2,\\;
        (V^{\\text{clip}}_t - \\hat R_t)^2\\big)\\big]

    spec-shielded-ppo writes the plain squared error; the ½ and the clip around
    V_old are the standard PPO-for-LMs recipe (the ½ halves the effective c_V).

    Args:
        values: (B, T) current value head, with gradient.
        old_values: (B, T) values at rollout time (constant).
        returns: (B, T) targets R_t = A_t + V_old(t) from :func:`recrl_core.rl.advantages.gae`.
        mask: (B, T) 1.0 on valid tokens.
        clip_range: epsilon_V.
    Returns:
        ``(loss, stats)``: scalar loss with gradient; detached stats ``losses/value``
        and ``ppo/value_clipfrac`` (share of valid tokens where the clipped error is larger).
    Reference: Schulman et al. 2017; Ziegler et al. 2019; spec-shielded-ppo.
    Taught in: sec-ppo-from-scratch
    """
    mask = mask.to(values.dtype)
    old_values, returns = old_values.detach(), returns.detach()
    v_clipped = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    err = (values - returns) ** 2                                                   # (B, T)
    err_clipped = (v_clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(err, err_clipped), mask)
    stats = {"losses/value": loss.detach(),
             "ppo/value_clipfrac": masked_mean((err_clipped > err).to(mask.dtype), mask).detach()}
    return loss, stats


class FixedKL:
    """Constant KL coefficient; ``update`` does nothing.

    Reference: spec-shielded-ppo (beta_KL = 0.05).
    Taught in: sec-kl-penalty
    """

    def __init__(self, coef: float):
        self.value = coef

    def update(self, current_kl: float, n_steps: int) -> None:
        """Keep ``value``; same signature as :meth:`AdaptiveKL.update`."""


class AdaptiveKL:
    """Proportional controller that steers the measured KL towards a target.

    .. math::
        e = \\operatorname{clip}\\Big(\\frac{\\mathrm{KL}}{\\mathrm{KL}_{\\text{target}}} - 1,
        -0.2, 0.2\\Big), \\qquad
        \\beta \\leftarrow \\beta\\,\\Big(1 + e\\,\\frac{n_{\\text{steps}}}{\\text{horizon}}\\Big)

    Reference: Ziegler et al. 2019, "Fine-tuning language models from human
        preferences", §2.2 (K_beta = n_steps / horizon here).
    Taught in: sec-kl-penalty
    """

    def __init__(self, init: float, target: float, horizon: int):
        self.value, self.target, self.horizon = init, target, horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        """Move ``value`` up if ``current_kl`` > target, down if below.

        Args:
            current_kl: measured KL (per sequence, same unit as ``target``).
            n_steps: rollouts (sequences) since the last update.
        """
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
