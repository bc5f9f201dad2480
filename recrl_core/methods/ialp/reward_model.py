"""The learned reward R_psi(s, a): the teacher's choices, generalised to every item and every state.

The teacher labels only M candidates of a few logged states; the reward model turns
those labels into a reward for any (state, item) pair. Its network is Ch. 6's light
actor-critic encoder (item embeddings plus category features, mean-pooled history
with click feedback); its item logits are :math:`R_\\psi(s, \\cdot)`. It is fitted by
binary cross-entropy on the labelled candidates:

.. math::
    \\mathcal L_R(\\psi) = \\operatorname{mean}_{(s, a)}\\operatorname{BCE}\\big(\\sigma(R_\\psi(s, a)),\\; \\hat r(s, a)\\big)

Spec: spec-ialp-losses (book/appendix/ialp.md), step 2.
Taught in: sec-ialp-teacher
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from recrl_core.config import Mode
from recrl_core.methods.ialp.ialp_task import Logs
from recrl_core.rl.actor_critic import ActorCritic


@dataclass(frozen=True)
class RewardModelConfig:
    hidden_size: int = 64     # H of the encoder (Proposed; as Ch. 6's actor-critic)
    encoder: str = "mean"     # "mean" | "gru" history encoder (Proposed)
    epochs: int = 60          # passes over the labelled states (Proposed)
    batch_size: int = 64      # states per step (Proposed)
    lr: float = 3e-3          # Adam (Proposed)
    weight_decay: float = 1e-4  # L2 on the parameters: few labels, many items (Proposed)
    holdout: float = 0.2      # share of labelled states held out to report generalisation (Proposed)
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("hidden_size", "epochs")

    @classmethod
    def for_mode(cls, mode: Mode) -> "RewardModelConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(hidden_size=16, epochs=5)}[mode]
        return replace(cls(), **sizes)


class RewardModel(nn.Module):
    """``R_psi(s, .)``: (B, L) history -> (B, N) reward logits; ``rewards`` gives sigma(R) of chosen items."""

    def __init__(self, num_items: int, cfg: RewardModelConfig, item_features=None):
        super().__init__()
        self.net = ActorCritic(num_items, cfg.hidden_size, cfg.encoder, item_features=item_features)

    def forward(self, items: torch.Tensor, feedback: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(items, feedback, lengths)[0]                              # (B, N); the critic is unused

    @torch.no_grad()
    def rewards(self, items: np.ndarray, feedback: np.ndarray, lengths: np.ndarray, starts: np.ndarray,
                actions: np.ndarray) -> np.ndarray:
        """(A,) sigma(R(s, a)) for A states (numpy histories) and their actions; ``starts`` is unused."""
        logits = self(torch.as_tensor(items), torch.as_tensor(feedback), torch.as_tensor(lengths))
        return torch.sigmoid(logits.gather(1, torch.as_tensor(actions)[:, None]).squeeze(1)).double().numpy()


def reward_loss(logits: torch.Tensor, pools: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE of sigma(R(s, a)) against the teacher's labels, over the labelled candidates.

    Args:
        logits: (B, N) R_psi(s, .); pools: (B, M) candidate ids; labels: (B, M) 0/1.
    Returns:
        scalar mean over the B x M labelled pairs.
    Taught in: sec-ialp-teacher
    """
    return F.binary_cross_entropy_with_logits(logits.gather(1, pools), labels)


def fit_reward_model(logs: Logs, rows: np.ndarray, pools: np.ndarray, labels: np.ndarray, num_items: int,
                     cfg: RewardModelConfig, item_features=None) -> tuple[RewardModel, pd.DataFrame, np.ndarray]:
    """Fit R_psi on the labelled states ``rows`` (a seeded ``holdout`` share kept out).

    Returns:
        the model (eval mode), a log (epoch, train_loss, holdout_loss) and the (S,) bool mask
        of the held-out states (for judging generalisation).
    """
    torch.manual_seed(cfg.seed)
    model = RewardModel(num_items, cfg, item_features)
    rng = np.random.default_rng(cfg.seed)
    held = rng.random(len(rows)) < cfg.holdout
    items, feedback, lengths = (torch.as_tensor(a[rows]) for a in (logs.items, logs.feedback, logs.lengths))
    pools_t, labels_t = torch.as_tensor(pools), torch.as_tensor(labels, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train, log = np.flatnonzero(~held), []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order, losses = rng.permutation(train), []
        for start in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[start:start + cfg.batch_size])
            loss = reward_loss(model(items[idx], feedback[idx], lengths[idx]), pools_t[idx], labels_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        log.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "holdout_loss": _loss_on(model, items,
                    feedback, lengths, pools_t, labels_t, np.flatnonzero(held))})
    return model.eval(), pd.DataFrame(log), held


@torch.no_grad()
def _loss_on(model, items, feedback, lengths, pools, labels, rows: np.ndarray) -> float:
    if len(rows) == 0:
        return float("nan")
    model.eval()
    idx = torch.as_tensor(rows)
    return float(reward_loss(model(items[idx], feedback[idx], lengths[idx]), pools[idx], labels[idx]))


@torch.no_grad()
def score_states(model: RewardModel, logs: Logs, rows: np.ndarray) -> np.ndarray:
    """(S, N) sigma(R(s, .)) for the logged states ``rows``."""
    logits = model(torch.as_tensor(logs.items[rows]), torch.as_tensor(logs.feedback[rows]),
                   torch.as_tensor(logs.lengths[rows]))
    return torch.sigmoid(logits).double().numpy()
