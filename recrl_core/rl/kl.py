"""Per-token KL estimators between the policy and the frozen reference.

Both take the log-probabilities of the *sampled* tokens under the policy and
under the reference, with :math:`r_t = \\log\\pi_{\\text{ref}}(y_t) - \\log\\pi_\\theta(y_t)`
(spec-llm-conventions). Averaged over tokens sampled from :math:`\\pi_\\theta`, both are
unbiased estimates of :math:`\\mathrm{KL}(\\pi_\\theta \\,\\|\\, \\pi_{\\text{ref}})`;
they differ in sign behaviour and variance.

Taught in: sec-kl-penalty
"""

from __future__ import annotations

import torch


def kl_k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref); unbiased, single tokens can be negative (k1).

    .. math::
        k_1 = -r_t = \\log\\pi_\\theta(y_t) - \\log\\pi_{\\text{ref}}(y_t)

    Args:
        logprobs: (B, T) log pi(y_t | x, y_<t) of the sampled tokens.
        ref_logprobs: (B, T) the same tokens under the reference policy.
    Returns:
        (B, T) tensor logprobs - ref_logprobs.
    Reference: Schulman, "Approximating KL divergence" (k1); spec-shielded-ppo.
    Taught in: sec-kl-penalty
    """
    return logprobs - ref_logprobs


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref); never negative (Schulman's k3).

    .. math::
        k_3 = e^{r_t} - 1 - r_t, \\qquad r_t = \\log\\pi_{\\text{ref}}(y_t) - \\log\\pi_\\theta(y_t)

    Unbiased because :math:`\\mathbb E_{\\pi_\\theta}[e^{r}] = 1`; non-negative because
    :math:`e^{r} \\ge 1 + r`.

    Args:
        logprobs: (B, T) log pi(y_t | x, y_<t) of the sampled tokens.
        ref_logprobs: (B, T) the same tokens under the reference policy.
    Returns:
        (B, T) tensor exp(r) - 1 - r, with r = ref_logprobs - logprobs.
    Reference: Schulman, "Approximating KL divergence" (k3).
    Taught in: sec-kl-penalty
    """
    r = ref_logprobs - logprobs                                   # (B, T) log ratio ref / policy
    return torch.expm1(r) - r                                     # expm1: exact near r = 0
