"""The one interaction schema every dataset is read into, and its validation.

| column   | dtype   | meaning                                                        |
|----------|---------|----------------------------------------------------------------|
| user     | int64   | the dataset's own user id                                      |
| item     | int64   | the dataset's own item id                                      |
| time     | int64   | Unix seconds (Last.fm: first tag date, monthly resolution)     |
| value    | float64 | explicit feedback: rating (MovieLens, Amazon) or play count    |
| event    | string  | what was logged: ``"rating"``, ``"tag"``, ``"review"``          |

Behaviour labels for RL ("purchase"-like vs "click"-like) are *derived* from
``value`` by :func:`label_behaviour`, with the threshold as a config field.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ("user", "item", "time", "value", "event")
INT_COLUMNS = ("user", "item", "time")
PURCHASE, CLICK = "purchase", "click"


def validate(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check ``frame`` against the schema and return it with canonical dtypes and order.

    Raises:
        ValueError: naming ``source``, the column and the first offending row.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; the schema is {list(COLUMNS)}")
    if frame.empty:
        raise ValueError(f"{source}: no interactions (empty after loading or filtering)")
    out = frame.loc[:, list(COLUMNS)].reset_index(drop=True)
    for col in (*INT_COLUMNS, "value"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: column '{col}' row {row} is {out[col].iloc[row]!r}, not a number")
        out[col] = values.astype("float64" if col == "value" else "int64")
    if (out["user"] < 0).any() or (out["item"] < 0).any():
        raise ValueError(f"{source}: user and item ids must be non-negative")
    out["event"] = out["event"].astype(str)
    return out


def sort_chronologically(frame: pd.DataFrame) -> pd.DataFrame:
    """Order by (user, time, item): ties on time are broken by item id, deterministically.

    23,228 ml-latest-small ratings share a (user, timestamp) with another one.
    """
    return frame.sort_values(["user", "time", "item"], kind="stable").reset_index(drop=True)


def label_behaviour(frame: pd.DataFrame, purchase_threshold: float) -> pd.Series:
    """``"purchase"`` where ``value >= purchase_threshold``, else ``"click"`` (a string Series)."""
    return pd.Series(np.where(frame["value"].to_numpy() >= purchase_threshold, PURCHASE, CLICK),
                     index=frame.index, name="behaviour")


def k_core(frame: pd.DataFrame, k: int, source: str = "interactions") -> pd.DataFrame:
    """Iteratively drop users and items with fewer than ``k`` interactions until none remain.

    Raises:
        ValueError: if nothing survives the filter.
    """
    out = frame
    while True:
        users = out["user"].map(out["user"].value_counts())
        items = out["item"].map(out["item"].value_counts())
        keep = (users >= k) & (items >= k)
        if keep.all():
            break
        out = out[keep]
    if out.empty:
        raise ValueError(f"{source}: empty after the {k}-core filter; lower k or use more data")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Encoded:
    """Interactions with contiguous ids: ``user_idx`` in [0, U), ``item_idx`` in [0, N).

    ``items[i]`` is the raw item id of index ``i``; index ``N`` is the padding id
    used in padded histories (so scores over ``N`` items line up with indices).
    """

    frame: pd.DataFrame  # schema columns + user_idx, item_idx
    users: np.ndarray    # (U,) raw user ids
    items: np.ndarray    # (N,) raw item ids

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def pad_id(self) -> int:
        return len(self.items)

    def item_index(self, raw_ids) -> np.ndarray:
        """Map raw item ids to indices; unknown ids raise ``KeyError`` naming them."""
        lookup = pd.Index(self.items)
        idx = lookup.get_indexer(np.asarray(raw_ids))
        if (idx < 0).any():
            unknown = np.asarray(raw_ids)[idx < 0][:5].tolist()
            raise KeyError(f"unknown item id(s) {unknown}: not in this dataset's catalogue")
        return idx


def encode(frame: pd.DataFrame, catalogue: np.ndarray | None = None) -> Encoded:
    """Give users and items contiguous indices (sorted by raw id).

    Args:
        frame: validated interactions.
        catalogue: raw item ids to index (default: items in ``frame``). Passing the
            full catalogue keeps never-rated items rankable.
    """
    users = np.unique(frame["user"].to_numpy())
    items = np.unique(frame["item"].to_numpy() if catalogue is None else np.asarray(catalogue))
    out = frame.copy()
    out["user_idx"] = np.searchsorted(users, out["user"].to_numpy())
    item_idx = np.searchsorted(items, out["item"].to_numpy())
    item_idx = np.minimum(item_idx, len(items) - 1)
    if (items[item_idx] != out["item"].to_numpy()).any():
        raise ValueError("encode: the interactions name items that are not in the catalogue")
    out["item_idx"] = item_idx
    return Encoded(frame=out, users=users, items=items)
