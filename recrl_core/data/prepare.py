"""From raw files to a split, encoded dataset with evaluation events: one function, one config.

The pipeline (identical in every mode; only ``max_users`` shrinks in smoke):
load → genre slice → first ``max_users`` users → iterative k-core → behaviour
labels → contiguous ids → split → validation/test events with histories.

Taught in: sec-splits-and-leakage
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.data import interactions, movielens, sequences
from recrl_core.data.sequences import EvalEvents


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "ml-latest-small"          # data folder name (stack.md §9)
    genres: tuple[str, ...] = ()              # () = whole catalogue; ("Fantasy", "Romance") = the book's slice
    min_core: int = 5                         # iterative k-core on users and items (Proposed; stack.md §9.2)
    purchase_threshold: float = 4.0           # rating >= 4 is "purchase"-like, r = 1.0 (methods.md §1.10)
    split: str = "global_time"                # global_time | leave_last_out | random_by_sequence (methods.md §7)
    val_frac: float = 0.1                     # share of the timeline / users for validation (Public code: 80/10/10)
    test_frac: float = 0.1                    # share for test (Public code: 80/10/10)
    history_len: int = 50                     # longest history kept per evaluation event (Proposed)
    max_users: int | None = None              # None = every user; smoke keeps the first users by id
    seed: int = 0                             # only used by random_by_sequence

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("max_users",)

    @classmethod
    def for_mode(cls, mode: Mode, **overrides) -> "DataConfig":
        """Mode sizes on top of the defaults; ``overrides`` choose the dataset, slice, split, ..."""
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(max_users=60)}[mode]
        return replace(cls(**overrides), **sizes)


@dataclass(frozen=True)
class Prepared:
    """Everything an offline experiment needs, built by :func:`prepare`."""

    cfg: DataConfig
    encoded: interactions.Encoded   # all kept events, sorted (user, time, item), with behaviour
    labels: pd.Series               # train / val / test per row of encoded.frame
    val: EvalEvents
    test: EvalEvents

    @property
    def train(self) -> pd.DataFrame:
        return self.encoded.frame[self.labels.to_numpy() == sequences.TRAIN]

    @property
    def num_items(self) -> int:
        return self.encoded.num_items

    @property
    def num_users(self) -> int:
        return self.encoded.num_users

    @property
    def num_train_users(self) -> int:
        """Users with at least one training event (the denominator of novelty)."""
        return int(self.train["user_idx"].nunique())

    def item_users(self) -> np.ndarray:
        """(N,) distinct training users per item (popularity for novelty)."""
        pairs = self.train[["user_idx", "item_idx"]].drop_duplicates()
        return np.bincount(pairs["item_idx"].to_numpy(), minlength=self.num_items)


def load_events(cfg: DataConfig, data_dir: Path) -> pd.DataFrame:
    """Raw events of ``cfg.dataset`` in the schema, after the genre slice."""
    if cfg.dataset == movielens.NAME:
        ratings = movielens.load_ratings(data_dir)
        if cfg.genres:
            ratings = movielens.genre_slice(ratings, movielens.load_movies(data_dir), cfg.genres)
        return ratings
    if cfg.dataset == "hetrec2011-lastfm-2k":
        from recrl_core.data import lastfm

        if cfg.genres:
            raise ValueError("hetrec2011-lastfm-2k has no genres; leave DataConfig.genres empty")
        return lastfm.load_interactions(data_dir)
    raise ValueError(f"unknown dataset {cfg.dataset!r}; use 'ml-latest-small' or 'hetrec2011-lastfm-2k'")


def first_users(frame: pd.DataFrame, max_users: int | None) -> pd.DataFrame:
    """Keep the ``max_users`` smallest user ids (a deterministic slice for smoke runs)."""
    if max_users is None:
        return frame
    keep = np.sort(frame["user"].unique())[:max_users]
    return frame[frame["user"].isin(keep)]


def prepare(cfg: DataConfig, data_dir: Path) -> Prepared:
    """Run the whole pipeline of the module docstring.

    Raises:
        ValueError: when filtering leaves nothing, naming the step.
    """
    from recrl_core.seeding import make_rng

    frame = first_users(load_events(cfg, data_dir), cfg.max_users)
    frame = interactions.k_core(frame, cfg.min_core, source=f"{cfg.dataset} ({cfg.genres or 'all'})")
    frame = interactions.sort_chronologically(frame)
    if cfg.dataset == "hetrec2011-lastfm-2k":
        from recrl_core.data import lastfm

        frame = lastfm.sequence_order(frame)     # same-month ties: play count, then artist id
    frame["behaviour"] = interactions.label_behaviour(frame, cfg.purchase_threshold)
    encoded = interactions.encode(frame)
    labels = sequences.split(encoded.frame, cfg.split, cfg.val_frac, cfg.test_frac, make_rng(cfg.seed))
    events = {which: sequences.eval_events(encoded.frame, labels, which, cfg.history_len, encoded.pad_id)
              for which in (sequences.VAL, sequences.TEST)}
    return Prepared(cfg=cfg, encoded=encoded, labels=labels, val=events["val"], test=events["test"])
