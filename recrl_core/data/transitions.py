"""Logged sequences as RL transitions ``(s, a, r, s', done)`` for SQN-style learners.

State = the last ``state_len`` items before the action, right-padded with ``N``.
Reward = ``reward_buy`` for a purchase-like event, ``reward_click`` otherwise.
``done`` = 1 at the last event of each user's (training) sequence.

Taught in: sec-transitions
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.data import interactions, sequences


@dataclass(frozen=True)
class TransitionConfig:
    state_len: int = 10          # history length (Public code: replay_buffer.py state_size)
    reward_click: float = 0.2    # reward of a click-like event (Public code: --r_click)
    reward_buy: float = 1.0      # reward of a purchase-like event (Public code: --r_buy)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def for_mode(cls, mode: Mode) -> "TransitionConfig":
        """The same in every mode: the MDP's definition is semantics, not size."""
        return replace(cls())


@dataclass(frozen=True)
class Transitions:
    """Arrays of equal first dimension E.

    Shapes: ``state``/``next_state`` (E, T) int64; ``len_state``/``len_next_state``,
    ``action`` (E,) int64; ``reward``, ``done`` (E,) float32; ``is_purchase`` (E,) bool.
    """

    state: np.ndarray
    len_state: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_state: np.ndarray
    len_next_state: np.ndarray
    done: np.ndarray
    is_purchase: np.ndarray

    def __len__(self) -> int:
        return len(self.action)

    def take(self, index: np.ndarray) -> "Transitions":
        """Rows ``index`` of every array, as the same class (subclasses keep their extra fields)."""
        return type(self)(*(getattr(self, f.name)[index] for f in fields(self)))

    def to_torch(self, device: str = "cpu") -> dict:
        """Tensors keyed by field name (long for ids and lengths, float for reward/done)."""
        import torch

        return {f.name: torch.as_tensor(getattr(self, f.name), device=device) for f in fields(self)}


def build_transitions(frame: pd.DataFrame, cfg: TransitionConfig, pad_id: int) -> Transitions:
    """One transition per event of ``frame`` (encoded, sorted by user, time, item; with ``behaviour``).

    ``len_state`` is at least 1: an empty history is a single padding token
    (as in the SQN reference code), so recurrent encoders always read one step.
    """
    user_idx = frame["user_idx"].to_numpy()
    item_idx = frame["item_idx"].to_numpy()
    positions = np.arange(len(frame))
    state, len_state = sequences.history_windows(item_idx, user_idx, positions, cfg.state_len, pad_id)
    next_state, len_next = sequences.history_windows(item_idx, user_idx, positions, cfg.state_len, pad_id,
                                                     inclusive=True)
    is_purchase = frame["behaviour"].to_numpy() == interactions.PURCHASE
    last_of_user = np.r_[user_idx[1:] != user_idx[:-1], True]
    return Transitions(
        state=state, len_state=np.maximum(len_state, 1), action=item_idx.astype(np.int64),
        reward=np.where(is_purchase, cfg.reward_buy, cfg.reward_click).astype(np.float32),
        next_state=next_state, len_next_state=np.maximum(len_next, 1),
        done=last_of_user.astype(np.float32), is_purchase=is_purchase)

