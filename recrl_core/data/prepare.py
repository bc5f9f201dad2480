"""From raw files to a split, encoded dataset with evaluation events: one function, one config.

The pipeline (identical in every mode; only ``max_users`` shrinks in smoke):
load → genre slice → first ``max_users`` users → iterative k-core → sequence
order → behaviour labels → contiguous ids → split → validation/test events
with histories. :func:`prepare` runs it on a built-in dataset
(``DataConfig.dataset`` in :data:`BUILT_IN`); :func:`prepare_events` runs the
same steps after the load on any events in the schema of
:mod:`recrl_core.data.interactions`, for example your own log::

    events = interactions.read_csv("orders.csv", {"user": "customer", "item": "product",
                                                  "time": "ts", "value": "stars"}, event="rating")
    cfg = DataConfig(dataset="my-shop", min_core=3, purchase_threshold=4.0)   # the name is a label
    data = prepare_events(events, cfg)
    data.train, data.val, data.test     # the same Prepared as for MovieLens

Taught in: sec-splits-and-leakage
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.data import amazon, interactions, lastfm, movielens, sequences
from recrl_core.data.sequences import EvalEvents

BUILT_IN = (movielens.NAME, lastfm.DATASET, amazon.DATASET)


@dataclass(frozen=True)
class DataConfig:
    """What to load and how to cut it.

    ``dataset`` names a built-in dataset (:data:`BUILT_IN`) for :func:`prepare`,
    or is any label for your own events in :func:`prepare_events`. ``genres``
    slices MovieLens (movies with any of them) and Amazon Books; Last.fm and
    your own data have none (slice your frame before :func:`prepare_events`).

    ``amazon-books`` maps the fields onto ``amazon.load_interactions``:
    ``genres`` are category-path elements and must be given: the Books files
    are gigabytes and are only read as a slice, and ``()`` means "whole
    catalogue" everywhere else, so it is not quietly reinterpreted (the book's
    slice is ``amazon.SLICE_GENRES`` = ("Fantasy", "Romance"), written out as for
    the MovieLens slice). ``min_core`` is its k-core. ``max_users`` keeps the
    *most active* reviewers before the k-core: the smallest reviewerIDs would be
    an arbitrary, mostly sparse sample that a k-core empties. The later
    first-users and k-core steps then change nothing.
    """

    dataset: str = "ml-latest-small"          # data folder name (spec-datasets)
    genres: tuple[str, ...] = ()              # () = whole catalogue; ("Fantasy", "Romance") = the book's slice
    min_core: int = 5                         # iterative k-core on users and items (Proposed; spec-movielens)
    purchase_threshold: float = 4.0           # rating >= 4 is "purchase"-like, r = 1.0 (spec-book-data)
    split: str = "global_time"                # global_time | leave_last_out | random_by_sequence (spec-pitfalls)
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
    """Everything an offline experiment needs, built by :func:`prepare` or :func:`prepare_events`."""

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
    """Raw events of the built-in ``cfg.dataset`` in the schema, after the genre slice.

    Args:
        cfg: names the dataset and its slice (see :class:`DataConfig`).
        data_dir: the folder holding the dataset's folder (``config.data_dir()``).
    Returns:
        (E, 5) schema frame.
    Raises:
        ValueError: a dataset that is not built in (the message says how to prepare
            your own events), genres for a dataset without them, or none for Amazon.
    """
    if cfg.dataset == movielens.NAME:
        ratings = movielens.load_ratings(data_dir)
        if cfg.genres:
            ratings = movielens.genre_slice(ratings, movielens.load_movies(data_dir), cfg.genres)
        return ratings
    if cfg.dataset == lastfm.DATASET:
        if cfg.genres:
            raise ValueError(f"{lastfm.DATASET} has no genres; leave DataConfig.genres empty")
        return lastfm.load_interactions(data_dir, unknown_artists="keep")   # the book's choice (spec-lastfm)
    if cfg.dataset == amazon.DATASET:
        if not cfg.genres:
            raise ValueError(f"{amazon.DATASET} is read as a genre slice: set DataConfig.genres, e.g. "
                             f"genres={amazon.SLICE_GENRES} (the book's slice)")
        frame, _ = amazon.load_interactions(data_dir, genres=cfg.genres, core=cfg.min_core,
                                            max_users=cfg.max_users)
        return frame
    raise ValueError(f"{cfg.dataset!r} is not a built-in dataset {list(BUILT_IN)}. For your own data, "
                     "read it into the schema (e.g. interactions.read_csv) and call "
                     "prepare_events(events, cfg): there cfg.dataset is just a label.")


def first_users(frame: pd.DataFrame, max_users: int | None) -> pd.DataFrame:
    """Keep the ``max_users`` smallest user ids (a deterministic slice for smoke runs)."""
    if max_users is None:
        return frame
    keep = np.sort(frame["user"].unique())[:max_users]
    return frame[frame["user"].isin(keep)]


def prepare(cfg: DataConfig, data_dir: Path) -> Prepared:
    """Load the built-in ``cfg.dataset`` and run the whole pipeline of the module docstring.

    Raises:
        FileNotFoundError: a data file is missing (the message names RECRL_DATA_DIR).
        ValueError: an unknown dataset or a malformed file (see :func:`load_events`),
            or filtering leaves nothing, naming the step.
    """
    return _pipeline(load_events(cfg, data_dir), cfg)


def prepare_events(events: pd.DataFrame, cfg: DataConfig) -> Prepared:
    """Run the pipeline after the load on events you bring: the same steps as :func:`prepare`.

    Args:
        events: (E, 5+) frame with the schema columns ``interactions.COLUMNS``
            (other columns are dropped), already sliced as you want it.
        cfg: ``dataset`` is a label (a built-in name also picks its sequence order,
            e.g. Last.fm's play-count tie-break); ``genres`` must be empty;
            ``max_users`` keeps the smallest user ids, as for MovieLens and Last.fm.
    Returns:
        :class:`Prepared`; ``prepare_events(load_events(cfg, d), cfg)`` equals
        ``prepare(cfg, d)`` for every built-in dataset without genres.
    Raises:
        ValueError: a frame that breaks the schema (naming column and row), genres
            set, or filtering leaves nothing, naming the step.
    """
    if cfg.genres:
        raise ValueError(f"prepare_events does not slice by genre (DataConfig.genres={cfg.genres}): "
                         "pass the events already sliced and leave genres empty")
    return _pipeline(interactions.validate(events, source=f"{cfg.dataset} events"), cfg)


def _pipeline(events: pd.DataFrame, cfg: DataConfig) -> Prepared:
    """first users → k-core → sequence order → behaviour → ids → split → evaluation events."""
    from recrl_core.seeding import make_rng

    frame = first_users(events, cfg.max_users)
    frame = interactions.k_core(frame, cfg.min_core, source=f"{cfg.dataset} ({cfg.genres or 'all'})")
    frame = interactions.sort_chronologically(frame)
    if cfg.dataset == lastfm.DATASET:
        frame = lastfm.sequence_order(frame)     # same-month ties: play count, then artist id
    frame["behaviour"] = interactions.label_behaviour(frame, cfg.purchase_threshold)
    encoded = interactions.encode(frame)
    labels = sequences.split(encoded.frame, cfg.split, cfg.val_frac, cfg.test_frac, make_rng(cfg.seed))
    held_out = {which: sequences.eval_events(encoded.frame, labels, which, cfg.history_len, encoded.pad_id)
                for which in (sequences.VAL, sequences.TEST)}
    return Prepared(cfg=cfg, encoded=encoded, labels=labels, val=held_out["val"], test=held_out["test"])
