"""A2C: the one-step advantage actor-critic losses, and a small actor-critic over item histories.

Per transition (spec-ialp-losses), with :math:`d_t = 1` only when the user *left*
(a truncated session still bootstraps from :math:`V(s_{t+1})`):

.. math::
    \\delta_t = r_t + \\gamma\\,(1 - d_t)\\,V(s_{t+1}) - V(s_t), \\qquad
    \\mathcal L_V = \\delta_t^2, \\qquad
    \\mathcal L_\\pi = -\\log \\pi(a_t \\mid s_t)\\,\\operatorname{sg}(\\delta_t)
                      - \\beta_H\\,\\mathcal H\\big(\\pi(\\cdot \\mid s_t)\\big)

:math:`V(s_{t+1})` is a constant (semi-gradient TD), and the policy gradient
sees :math:`\\delta_t` as a constant advantage estimate. The batch loss is
:math:`\\operatorname{mean}_B(\\mathcal L_\\pi + \\mathcal L_V)`.

Reference: Mnih et al., "Asynchronous methods for deep reinforcement learning",
    ICML 2016 (A3C/A2C); spec-ialp-losses (iALP's actor-critic).
Taught in: sec-online-a2c
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recrl_core.seqrec.embedding import item_embedding, last_valid

MASKED_LOGIT = -1e9   # exp() underflows to exactly 0: a masked item is never sampled, adds 0 entropy
ENCODERS = ("mean", "gru")


def td_error(reward: torch.Tensor, done: torch.Tensor, value: torch.Tensor,
             next_value: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step TD error; the bootstrap value is detached.

    .. math::
        \\delta_t = r_t + \\gamma\\,(1 - d_t)\\,\\operatorname{sg}(V(s_{t+1})) - V(s_t)

    Args:
        reward, done: (B,) r_t and d_t (1.0 if the user left at t).
        value: (B,) V(s_t), with gradient.
        next_value: (B,) V(s_{t+1}) (detached here).
        gamma: discount.
    Returns:
        (B,) delta_t, with gradient through V(s_t) only.
    Reference: spec-ialp-losses.
    Taught in: sec-online-a2c
    """
    return reward + gamma * (1.0 - done) * next_value.detach() - value


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """(B,) entropy of softmax(logits) per row; masked logits (``MASKED_LOGIT``) contribute 0."""
    logprobs = F.log_softmax(logits, dim=-1)                                 # (B, N)
    return -(logprobs.exp() * logprobs).sum(dim=-1)


def a2c_loss(logits: torch.Tensor, value: torch.Tensor, next_value: torch.Tensor,
             action: torch.Tensor, reward: torch.Tensor, done: torch.Tensor, gamma: float,
             entropy_coef: float) -> dict[str, torch.Tensor]:
    """The A2C loss of a batch of transitions.

    .. math::
        \\mathcal L = \\operatorname{mean}_B\\Big(-\\log\\pi(a_t\\mid s_t)\\,\\operatorname{sg}(\\delta_t)
        - \\beta_H\\,\\mathcal H(\\pi(\\cdot\\mid s_t)) + \\delta_t^2\\Big)

    Args:
        logits: (B, N) policy logits at s_t (unavailable items already masked).
        value: (B,) V(s_t); next_value: (B,) V(s_{t+1}).
        action: (B,) int64 a_t; reward, done: (B,) float.
        gamma: discount; entropy_coef: beta_H.
    Returns:
        ``{"loss": scalar with gradient, "policy", "value", "entropy", "td_error"}``;
        the parts are detached batch means (``td_error``: mean |delta|).
    Reference: Mnih et al., ICML 2016; spec-ialp-losses.
    Taught in: sec-online-a2c
    """
    delta = td_error(reward, done, value, next_value, gamma)                 # (B,)
    logprob = F.log_softmax(logits, dim=-1).gather(-1, action.unsqueeze(-1)).squeeze(-1)   # (B,)
    ent = entropy(logits)                                                    # (B,)
    policy = -logprob * delta.detach() - entropy_coef * ent                  # (B,) L_pi
    value_loss = delta ** 2                                                  # (B,) L_V
    return {"loss": (policy + value_loss).mean(), "policy": policy.mean().detach(),
            "value": value_loss.mean().detach(), "entropy": ent.mean().detach(),
            "td_error": delta.abs().mean().detach()}


class ActorCritic(nn.Module):
    """Policy logits over N items and a state value, from the observed history.

    Item i is represented by :math:`e_i = E_i + W_g\\,g_i`: a learned embedding
    plus, if given, a projection of its categories :math:`g_i` (the side
    information a recommender has about its catalogue). A history position is
    :math:`e_{a} + f_{\\text{click}}`; the state is the mean over real positions
    (``encoder="mean"``) or the last output of a GRU (``"gru"``), the two
    EasyRL4Rec state trackers of spec-ialp-losses. With
    :math:`h = \\tanh(W s + c)`, the logits are :math:`h^\\top e_i + b_i` (the
    item representations are shared by input and output) and the value is
    :math:`v^\\top h + v_0`. An empty history is the zero state.

    Args:
        num_items: N; item id N is padding.
        hidden_size: H.
        encoder: "mean" or "gru".
        item_features: (N, G) float categories per item, or None.
    Taught in: sec-online-a2c
    """

    def __init__(self, num_items: int, hidden_size: int, encoder: str = "mean",
                 item_features=None):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        self.num_items, self.encoder = num_items, encoder
        self.items = item_embedding(num_items, hidden_size)
        features = torch.zeros(num_items + 1, 0) if item_features is None else torch.cat(
            [torch.as_tensor(item_features, dtype=torch.float32), torch.zeros(1, len(item_features[0]))])
        self.register_buffer("item_features", features)                                   # (N + 1, G), pad row 0
        self.features = nn.Linear(features.shape[1], hidden_size, bias=False) if features.shape[1] else None
        self.feedback = nn.Embedding(2, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True) if encoder == "gru" else None
        self.body = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh())
        self.item_bias = nn.Parameter(torch.zeros(num_items))
        self.critic = nn.Linear(hidden_size, 1)

    def represent(self, ids: torch.Tensor) -> torch.Tensor:
        """(..., H) item representations e_i of ``ids`` (padding: 0)."""
        if self.features is None:
            return self.items(ids)
        return self.items(ids) + self.features(self.item_features[ids])

    def state(self, items: torch.Tensor, feedback: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, H) encoded history; items, feedback: (B, L), right-padded; lengths: (B,)."""
        valid = (torch.arange(items.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)  # (B, L, 1)
        x = (self.represent(items) + self.feedback(feedback.long())) * valid              # (B, L, H)
        if self.gru is None:
            return x.sum(dim=1) / lengths.clamp(min=1).unsqueeze(-1)                       # (B, H)
        out, _ = self.gru(x)                                                               # (B, L, H)
        return last_valid(out, lengths.clamp(min=1)) * (lengths > 0).unsqueeze(-1)

    def forward(self, items: torch.Tensor, feedback: torch.Tensor, lengths: torch.Tensor,
                seen: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(logits (B, N), values (B,))``; items with ``seen`` (B, N) True get ``MASKED_LOGIT``."""
        h = self.body(self.state(items, feedback, lengths))                                # (B, H)
        catalogue = self.represent(torch.arange(self.num_items))                           # (N, H)
        logits = h @ catalogue.T + self.item_bias                                          # (B, N)
        if seen is not None:
            logits = logits.masked_fill(seen, MASKED_LOGIT)
        return logits, self.critic(h).squeeze(-1)
