"""Simulated users grounded in a real log: a calibrated MF ground truth, satiation and the quit rule.

The ground truth is fitted once, on the whole log (all users of ``ml-latest-small``
or of HetRec Last.fm-2k):

1. **Catalogue**: items logged by at least ``min_item_users`` users (enough data
   for their factors to mean something).
2. **Calibration fit**: a random ``holdout_frac`` of the logged pairs is held out;
   implicit ALS (:class:`recrl_core.baselines.mf.ImplicitALS`) is fitted on the rest;
   Platt scaling maps its scores to probabilities on held-out pairs (label 1)
   and sampled unlogged pairs (label 0), see :mod:`recrl_core.envs.calibration`.
3. **Ground truth**: ALS with the same settings on **all** logged pairs; the true
   click logit of (u, i) is ``a * score(u, i) + b``.

A session: the user starts with their last L logged catalogue items as history.
Logged items are never clicked again (probability 0) and count as *seen*, so a
policy is always evaluated on items the user never logged. Each recommendation
is clicked with :math:`\\sigma(\\text{logit}_{u,a} - w\\,\\bar\\sigma^{\\text{sat}})`;
the user leaves by the KuaiEnv repetition rule over item categories (MovieLens
genres; Last.fm: each artist's most used tag, among the ``num_genres`` most
common); ``max_turn`` truncates.

Reference: Hu, Koren & Volinsky, ICDM 2008 (implicit ALS); Platt 1999; EasyRL4Rec
    (Yu et al., 2024) for the quit rule; spec-ialp-setup (book-mode simulator), spec-simulators.
Taught in: sec-grounded-users
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.baselines import mf
from recrl_core.config import Mode
from recrl_core.data import interactions, lastfm, movielens
from recrl_core.envs import calibration, session
from recrl_core.envs.session import UserEnv

DATASETS = ("ml-latest-small", "hetrec2011-lastfm-2k")


@dataclass(frozen=True)
class GroundedConfig:
    dataset: str = "ml-latest-small"   # one of DATASETS
    max_users: int | None = None       # None = every user; smoke keeps the first users by id
    min_item_users: int = 10           # catalogue: items logged by at least this many users (Proposed)
    factors: int = 32                  # ALS latent dimension of the ground truth (Proposed)
    iterations: int = 10               # ALS sweeps (Proposed)
    holdout_frac: float = 0.1          # logged pairs held out to calibrate (Proposed)
    negatives_per_positive: int = 4    # unlogged pairs per held-out pair; sets the click-rate level (Proposed)
    num_genres: int = 20               # Last.fm only: categories = the most common top tags (Proposed)
    history_len: int = 10              # L, items in the observation (Proposed; spec-ialp-mdp)
    max_turn: int = 100                # (Public code: EasyRL4Rec max_turn)
    num_leave_compute: int = 5         # K, the quit rule's window (Public code: KuaiEnv default)
    leave_threshold: int = 2           # (Proposed; KuaiEnv uses 1 with ~1 category per item,
    #                                    MovieLens films carry 2.3 genres on average)
    satiation_decay: float = 0.8       # per step (Proposed)
    satiation_weight: float = 1.0      # logit lost per unit of satiation (Proposed)
    seed: int = 0                      # hold-out draw, negatives, ALS initialisation

    # The catalogue threshold is a size: a 100-user smoke slice has few items that 10 users logged.
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("max_users", "min_item_users")

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")

    @classmethod
    def for_mode(cls, mode: Mode, **overrides) -> "GroundedConfig":
        """Mode sizes on top of the defaults; ``overrides`` choose the dataset, thresholds, ..."""
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: dict(max_users=100, min_item_users=3)}[mode]
        return replace(cls(**overrides), **sizes)


@dataclass(frozen=True)
class Log:
    """Distinct (user, item) pairs in sequence order, with item categories; input of :func:`fit_world`."""

    name: str
    pairs: pd.DataFrame        # user_idx, item_idx: first occurrence of each pair, in sequence order
    user_ids: np.ndarray       # (U,) raw ids
    item_ids: np.ndarray       # (N_all,) raw ids
    item_genres: np.ndarray    # (N_all, G) float64 0/1
    genre_names: list[str]


def make_log(name: str, frame: pd.DataFrame, genres: pd.DataFrame, max_users: int | None = None) -> Log:
    """Encode a schema frame already in sequence order.

    Args:
        frame: user, item (raw ids), in the order events happened.
        genres: 0/1 frame indexed by raw item id, one column per category
            (items missing from it get no category).
        max_users: keep only the first users by raw id.
    """
    if max_users is not None:
        frame = frame[frame["user"].isin(np.sort(frame["user"].unique())[:max_users])]
    user_ids, user_idx = np.unique(frame["user"].to_numpy(), return_inverse=True)
    item_ids, item_idx = np.unique(frame["item"].to_numpy(), return_inverse=True)
    pairs = pd.DataFrame({"user_idx": user_idx, "item_idx": item_idx}).drop_duplicates()
    table = genres.reindex(item_ids).fillna(0.0)
    return Log(name=name, pairs=pairs.reset_index(drop=True), user_ids=user_ids, item_ids=item_ids,
               item_genres=table.to_numpy(dtype=np.float64), genre_names=[str(c) for c in table.columns])


def movielens_log(data_dir: Path, cfg: GroundedConfig) -> Log:
    """All ratings of ml-latest-small (any rating = a logged pair), genres from movies.csv."""
    ratings = interactions.sort_chronologically(movielens.load_ratings(data_dir))
    movies = movielens.load_movies(data_dir)
    matrix, names = movielens.genre_matrix(movies, movies["item"].to_numpy())
    return make_log(cfg.dataset, ratings, pd.DataFrame(matrix, index=movies["item"], columns=names),
                    cfg.max_users)


def lastfm_log(data_dir: Path, cfg: GroundedConfig) -> Log:
    """All tagged (user, artist) pairs of Last.fm-2k, with one category per artist.

    The categories are the ``num_genres`` tags that are most often an artist's
    most used tag; an artist's category is the first of its 5 most used tags that
    is one of them (ties by tag name). About 10 % of the catalogue gets none.
    """
    frame = lastfm.load_interactions(data_dir, unknown_artists="keep")   # the book's choice (spec-lastfm)
    tags = lastfm.item_text(data_dir, top_tags=5).set_index("item")["tags"]
    tags = tags[tags.index.isin(frame["item"]) & (tags.map(len) > 0)]
    counts = tags.map(lambda t: t[0]).value_counts().sort_index(kind="stable")   # ties by tag name
    vocabulary = set(counts.sort_values(ascending=False, kind="stable").index[:cfg.num_genres])
    first = tags.map(lambda t: next((tag for tag in t if tag in vocabulary), None)).dropna()
    genres = pd.crosstab(first.index, first.to_numpy()).reindex(columns=sorted(vocabulary), fill_value=0)
    return make_log(cfg.dataset, frame, genres.astype(float), cfg.max_users)


def load_log(cfg: GroundedConfig, data_dir: Path) -> Log:
    if cfg.dataset == "ml-latest-small":
        return movielens_log(data_dir, cfg)
    return lastfm_log(data_dir, cfg)


@dataclass(frozen=True)
class GroundedWorld:
    """The fitted ground truth over U users and the N catalogue items."""

    name: str
    logits: np.ndarray           # (U, N) float32 true click logit before satiation
    logged: np.ndarray           # (U, N) bool, pairs in the log: clicked with probability 0, seen
    item_genres: np.ndarray      # (N, G) float64 0/1 categories
    genre_names: list[str]
    popularity: np.ndarray       # (N,) users who logged each item
    initial_items: np.ndarray    # (U, L) last L logged catalogue items, right-padded with N
    initial_lengths: np.ndarray  # (U,)
    user_ids: np.ndarray         # (U,) raw ids
    item_ids: np.ndarray         # (N,) raw ids
    platt: tuple[float, float]   # (a, b)
    calibration: pd.DataFrame    # user (log index), item (column), label, half, score (calibration model), prob
    num_log_users: int           # users in the log; those without room for a session are not simulated

    @property
    def num_users(self) -> int:
        return self.logits.shape[0]

    @property
    def num_items(self) -> int:
        return self.logits.shape[1]

    def click_probability(self, users: np.ndarray) -> np.ndarray:
        """(len(users), N) true click probabilities without satiation; 0 on logged pairs."""
        p = session.sigmoid(self.logits[users].astype(np.float64))
        return np.where(self.logged[users], 0.0, p)


def _als(pairs: pd.DataFrame, num_users: int, num_items: int, cfg: GroundedConfig) -> mf.ImplicitALS:
    als_cfg = mf.ALSConfig(factors=cfg.factors, iterations=cfg.iterations, seed=cfg.seed)
    return mf.ImplicitALS(num_users, num_items, als_cfg).fit(pairs)


def _initial_history(pairs: pd.DataFrame, num_users: int, num_items: int, length: int):
    """(U, L) each user's last ``length`` pairs (catalogue columns, in order), right-padded; (U,) lengths."""
    from_end = pairs.groupby("user_idx").cumcount(ascending=False).to_numpy()
    tail = pairs[from_end < length]
    position = tail.groupby("user_idx").cumcount().to_numpy()
    items = np.full((num_users, length), num_items, dtype=np.int64)
    items[tail["user_idx"].to_numpy(), position] = tail["column"].to_numpy()
    return items, np.bincount(tail["user_idx"].to_numpy(), minlength=num_users).astype(np.int64)


def _calibrate(log: Log, cfg: GroundedConfig, held: np.ndarray, column: np.ndarray, logged: np.ndarray,
               rng: np.random.Generator) -> tuple[float, float, pd.DataFrame]:
    """Fit ALS without the ``held`` pairs; Platt (a, b) on the "fit" half of the calibration pairs."""
    users, items = log.pairs["user_idx"].to_numpy(), log.pairs["item_idx"].to_numpy()
    first = _als(log.pairs[~held], len(log.user_ids), len(log.item_ids), cfg)
    pos = held & (column[items] >= 0)                                          # held-out catalogue pairs
    cal = calibration.calibration_pairs(users[pos], column[items[pos]], logged, cfg.negatives_per_positive, rng)
    user_f = first.user_factors.numpy()
    item_f = first.item_factors.numpy()[np.flatnonzero(column >= 0)]           # (N, F) catalogue rows
    cal["score"] = (user_f[cal["user"]] * item_f[cal["item"]]).sum(axis=1)
    fit = cal[cal["half"] == "fit"]
    a, b = calibration.platt_fit(fit["score"].to_numpy(), fit["label"].to_numpy())
    cal["prob"] = calibration.platt_probability(cal["score"].to_numpy(), a, b)
    return a, b, cal


def fit_world(log: Log, cfg: GroundedConfig) -> GroundedWorld:
    """Catalogue, calibration fit + Platt, ground-truth fit on all pairs (module docstring).

    Users with fewer than ``max_turn`` unlogged catalogue items are fitted but not
    simulated (a no-repeat policy would run out of items); none in book mode.
    """
    rng = np.random.default_rng(cfg.seed)
    users, items = log.pairs["user_idx"].to_numpy(), log.pairs["item_idx"].to_numpy()
    popularity = np.bincount(items, minlength=len(log.item_ids))
    catalogue = np.flatnonzero(popularity >= cfg.min_item_users)                 # (N,) columns of the log
    column = np.full(len(log.item_ids), -1)
    column[catalogue] = np.arange(len(catalogue))
    in_cat = column[items] >= 0
    logged = np.zeros((len(log.user_ids), len(catalogue)), dtype=bool)          # (U, N)
    logged[users[in_cat], column[items[in_cat]]] = True
    held = rng.random(len(items)) < cfg.holdout_frac
    a, b, cal = _calibrate(log, cfg, held, column, logged, rng)
    final = _als(log.pairs, len(log.user_ids), len(log.item_ids), cfg)
    scores = (final.user_factors @ final.item_factors[catalogue].T).numpy()      # (U, N)
    history = log.pairs[in_cat].assign(column=column[items[in_cat]])
    init_items, init_lengths = _initial_history(history, len(log.user_ids), len(catalogue), cfg.history_len)
    keep = len(catalogue) - logged.sum(axis=1) >= cfg.max_turn                   # (U,) room for a session
    return GroundedWorld(
        name=log.name, logits=(a * scores[keep] + b).astype(np.float32), logged=logged[keep],
        item_genres=log.item_genres[catalogue], genre_names=log.genre_names,
        popularity=popularity[catalogue], initial_items=init_items[keep], initial_lengths=init_lengths[keep],
        user_ids=log.user_ids[keep], item_ids=log.item_ids[catalogue], platt=(a, b), calibration=cal,
        num_log_users=len(log.user_ids))


def load_world(cfg: GroundedConfig, data_dir: Path) -> GroundedWorld:
    """Load ``cfg.dataset`` from ``data_dir`` and fit its ground truth."""
    return fit_world(load_log(cfg, data_dir), cfg)


class GroundedVecEnv(session.VecSessions):
    """B sessions of users of a :class:`GroundedWorld`, stepped together (no autoreset).

    ``reset`` draws each row's user uniformly from the U users (or takes ``users``)
    and one uniform per step; see :class:`recrl_core.envs.session.VecSessions`.

    Taught in: sec-grounded-users
    """

    num_uniforms = 1

    def __init__(self, cfg: GroundedConfig, world: GroundedWorld):
        self.cfg, self.world = cfg, world
        self.num_items, self.num_users, self.max_turn = world.num_items, world.num_users, cfg.max_turn
        self.observation_space = session.observation_space(world.num_items, cfg.history_len, cfg.max_turn)
        share = world.item_genres / np.maximum(world.item_genres.sum(axis=1, keepdims=True), 1.0)
        self.share = share                                                       # (N, G) rows sum to 1 or 0
        self.rngs = []

    def _allocate(self, batch: int) -> None:
        cfg = self.cfg
        self.s = session.new_session(batch, self.num_items, self.world.item_genres.shape[1],
                                     cfg.history_len, cfg.num_leave_compute, cfg.max_turn, 1)

    def _start(self, rows: np.ndarray) -> None:
        users = self.users[rows]
        self.s.items[rows] = self.world.initial_items[users]
        self.s.length[rows] = self.world.initial_lengths[users]
        self.s.feedback[rows] = (self.world.initial_items[users] < self.num_items).astype(np.int8)
        self.s.seen[rows] = self.world.logged[users]

    def click_probabilities(self) -> np.ndarray:
        """(B, N) the true click probability of every item for every row, now (0 on logged items)."""
        logits = self.world.logits[self.users].astype(np.float64)                # (B, N)
        logits -= self.cfg.satiation_weight * self.s.satiation @ self.share.T
        return np.where(self.world.logged[self.users], 0.0, session.sigmoid(logits))

    def step(self, actions):
        """One recommendation per row.

        Returns:
            as ``InterestVecEnv.step``; info holds (B,) ``click``, ``click_prob``, ``quit``, ``active``.
        """
        cfg, s, world = self.cfg, self.s, self.world
        actions = np.asarray(actions, dtype=np.int64)
        active = ~s.done
        rows = np.flatnonzero(active)
        act, users = actions[rows], self.users[rows]
        quit_now = session.quit_by_repetition(s.window[rows], act, world.item_genres, cfg.leave_threshold)
        share = self.share[act]                                                  # (A, G)
        logit = world.logits[users, act] - session.satiation_penalty(s.satiation[rows], share,
                                                                     cfg.satiation_weight)
        p = np.where(world.logged[users, act], 0.0, session.sigmoid(logit.astype(np.float64)))
        click = s.uniforms[rows, s.step[rows], 0] < p
        s.satiation[rows] = session.update_satiation(s.satiation[rows], share, cfg.satiation_decay)
        self.finish_step(rows, act, click, quit_now)
        info = {"click": np.zeros(len(actions), bool), "click_prob": np.zeros(len(actions)),
                "quit": np.zeros(len(actions), bool), "active": active}
        info["click"][rows], info["click_prob"][rows], info["quit"][rows] = click, p, quit_now
        return session.observe(s), info["click"].astype(np.float64), s.terminated.copy(), s.truncated.copy(), info


class GroundedEnv(UserEnv):
    """One user of a :class:`GroundedWorld` as a gymnasium ``Env``.

    Taught in: sec-grounded-users
    """

    def __init__(self, cfg: GroundedConfig, world: GroundedWorld):
        super().__init__(GroundedVecEnv(cfg, world))
