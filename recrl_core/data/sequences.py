"""Per-user sequences, splits, and padded history windows.

Three split rules (``split`` config field; the default is first):

* ``global_time`` — one timeline for everybody: events before the validation
  cut-off train, then validation, then test. Nothing from the future is seen.
* ``leave_last_out`` — each user's last event is test, the one before is
  validation. Popular in papers, and it leaks: training data contains events
  that happen *after* other users' test events (Ji et al., TOIS 2023).
* ``random_by_sequence`` — whole users are assigned at random (SQN protocol).

Histories are right-padded with the padding id ``N`` (= number of items):
``[i1, i2, i3, N, N]`` with length 3, oldest first.

Taught in: sec-splits-and-leakage
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRAIN, VAL, TEST = "train", "val", "test"
SPLIT_RULES = ("global_time", "leave_last_out", "random_by_sequence")


def global_time_split(frame: pd.DataFrame, val_frac: float, test_frac: float) -> pd.Series:
    """Label each event train/val/test by global time quantiles of ``frame["time"]``.

    Events at or after the ``1 - test_frac`` quantile are test; those at or after
    the ``1 - test_frac - val_frac`` quantile (and before test) are validation.
    """
    times = frame["time"].to_numpy()
    t_val, t_test = np.quantile(times, [1.0 - test_frac - val_frac, 1.0 - test_frac])
    labels = np.where(times >= t_test, TEST, np.where(times >= t_val, VAL, TRAIN))
    return pd.Series(labels, index=frame.index, name="split")


def leave_last_out_split(frame: pd.DataFrame) -> pd.Series:
    """Per user (chronological order assumed): last event test, second-to-last validation.

    Users with fewer than 3 events keep everything in training.
    """
    position_from_end = frame.groupby("user").cumcount(ascending=False).to_numpy()
    size = frame.groupby("user")["user"].transform("size").to_numpy()
    labels = np.where(size < 3, TRAIN,
                      np.where(position_from_end == 0, TEST, np.where(position_from_end == 1, VAL, TRAIN)))
    return pd.Series(labels, index=frame.index, name="split")


def random_by_sequence_split(frame: pd.DataFrame, val_frac: float, test_frac: float,
                             rng: np.random.Generator) -> pd.Series:
    """Assign whole users to train/val/test at random (the SQN papers' 80/10/10 by session)."""
    users = np.unique(frame["user"].to_numpy())
    order = rng.permutation(users)
    n_test, n_val = round(len(users) * test_frac), round(len(users) * val_frac)
    split_of = {u: TEST for u in order[:n_test]} | {u: VAL for u in order[n_test:n_test + n_val]}
    labels = frame["user"].map(lambda u: split_of.get(u, TRAIN))
    return labels.rename("split")


def split(frame: pd.DataFrame, rule: str, val_frac: float, test_frac: float,
          rng: np.random.Generator) -> pd.Series:
    """Dispatch on the split ``rule`` (see module docstring); ``frame`` in chronological order."""
    if rule == "global_time":
        return global_time_split(frame, val_frac, test_frac)
    if rule == "leave_last_out":
        return leave_last_out_split(frame)
    if rule == "random_by_sequence":
        return random_by_sequence_split(frame, val_frac, test_frac, rng)
    raise ValueError(f"unknown split rule {rule!r}; choose from {SPLIT_RULES}")


def user_sequences(frame: pd.DataFrame, column: str = "item_idx") -> dict[int, np.ndarray]:
    """``column`` of each user's events in frame order, per user index (frame sorted by user, time)."""
    return {int(u): g[column].to_numpy() for u, g in frame.groupby("user_idx", sort=True)}


def history_windows(item_idx: np.ndarray, user_idx: np.ndarray, positions: np.ndarray,
                    length: int, pad_id: int, *, inclusive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``length`` items before each position (``inclusive``: up to and including it), same user only.

    Args:
        item_idx: (E,) item index of every event, sorted by (user, time, item).
        user_idx: (E,) user index of every event (same order).
        positions: (M,) event positions whose histories are wanted.
        length: maximum history length T.
        pad_id: padding id (``N``).
        inclusive: include the event at the position itself (the state *after* the action).
    Returns:
        items (M, T) int64, oldest first then padding; lengths (M,) int64 in [0, T].
    """
    starts = np.searchsorted(user_idx, user_idx[positions], side="left")   # (M,) first event of user
    ends = positions + int(inclusive)                                     # (M,) exclusive window end
    lengths = np.minimum(ends - starts, length)                           # (M,)
    offsets = np.arange(length)[None, :]                                  # (1, T)
    source = ends[:, None] - lengths[:, None] + offsets                   # (M, T)
    valid = offsets < lengths[:, None]                                    # (M, T)
    items = np.where(valid, item_idx[np.clip(source, 0, len(item_idx) - 1)], pad_id)
    return items.astype(np.int64), lengths.astype(np.int64)


@dataclass(frozen=True)
class EvalEvents:
    """Evaluation events: one target item per row with the user's history before it.

    Shapes: ``users``, ``target``, ``lengths``, ``time`` (M,); ``items`` (M, T);
    ``behaviour`` (M,) strings ``"purchase"``/``"click"``.
    """

    users: np.ndarray
    items: np.ndarray
    lengths: np.ndarray
    target: np.ndarray
    behaviour: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, mask: np.ndarray) -> "EvalEvents":
        return EvalEvents(*(getattr(self, f)[mask] for f in
                            ("users", "items", "lengths", "target", "behaviour", "time")))


def eval_events(frame: pd.DataFrame, labels: pd.Series, which: str, history_len: int,
                pad_id: int, min_history: int = 1) -> EvalEvents:
    """Events labelled ``which`` with their history from *all* earlier events of the user.

    Args:
        frame: encoded interactions sorted by (user, time, item), with ``behaviour``.
        labels: split label per row of ``frame``.
        which: ``"val"`` or ``"test"``.
        history_len: T, the longest history kept.
        min_history: events with fewer earlier events are skipped (a cold user has no state).
    Raises:
        ValueError: if no event qualifies.
    """
    user_idx = frame["user_idx"].to_numpy()
    item_idx = frame["item_idx"].to_numpy()
    positions = np.flatnonzero(labels.to_numpy() == which)
    items, lengths = history_windows(item_idx, user_idx, positions, history_len, pad_id)
    starts = np.searchsorted(user_idx, user_idx[positions], side="left")
    keep = (positions - starts) >= min_history
    if not keep.any():
        raise ValueError(f"no '{which}' events with at least {min_history} earlier event(s); "
                         "use more data or another split")
    pos = positions[keep]
    return EvalEvents(users=user_idx[pos], items=items[keep], lengths=lengths[keep],
                      target=item_idx[pos], behaviour=frame["behaviour"].to_numpy()[pos],
                      time=frame["time"].to_numpy()[pos])
