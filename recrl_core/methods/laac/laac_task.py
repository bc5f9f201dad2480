"""Chapter 10's task: MovieLens logs aligned with a simulator that knows every item's true appeal.

The offline data are Chapter 4's MovieLens Fantasy|Romance slice (rating >= 4 is a
"purchase", reward 1.0; otherwise a "click", 0.2), restricted to the items and users
of Chapter 6's MovieLens-grounded simulator, so every (user, item) pair has a **true
click probability** — the appeal of items no log shows. An **imbalanced** variant
thins the training logs' long tail (:func:`imbalance`); validation and test stay as
they are. Reference sets of K items per user (the LLM's suggestions, random,
popular, greedy MF, the simulator's oracle) all come from the same per-user pools
or the same candidate rule, so they differ only in who chose.

Spec: spec-laac-setup. Taught in: sec-laac-suggestions, sec-laac-results
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.data import movielens, prepare, sequences
from recrl_core.envs import grounded, session

LOGS = ("balanced", "imbalanced")


@dataclass(frozen=True)
class LAACTaskConfig:
    genres: tuple[str, ...] = ("Fantasy", "Romance")   # Chapter 4's slice (spec-book-data)
    max_users: int | None = None  # None = every user of the slice; book keeps the first 200 (LLM cost per user)
    head_share: float = 0.2       # imbalanced log: the top 20 % items by training events are the head (Proposed)
    tail_keep: float = 0.2        # imbalanced log: share of tail training events kept (Proposed)
    suggestions: int = 10         # K, LLM suggestions per user (Proposed: 10-20)
    pool_size: int = 30           # candidates the LLM scores per user (Proposed)
    popular_share: float = 0.5    # pool share drawn by popularity; the rest uniformly (Proposed)
    history_shown: int = 5        # liked titles in a prompt (Proposed)
    generate_users: int = 24      # users on whom free generation is shown and measured
    num_seeds: int = 5            # seeds per results row (house rule >= 3)
    backbones: tuple[str, ...] = ("gru4rec", "caser", "sasrec")   # Ch. 3 encoders of the results table
    seed: int = 0                 # pools, imbalance draw, random reference

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("max_users", "generate_users", "num_seeds", "backbones")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LAACTaskConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(max_users=200, generate_users=8, backbones=("gru4rec",)),
                 Mode.SMOKE: dict(num_seeds=1, generate_users=2, backbones=("gru4rec",))}[mode]
        return replace(cls(), **sizes)


@dataclass
class Task:
    """The aligned data: prepared logs, titles, genres and the simulator's truth per (user, item)."""

    prep: prepare.Prepared
    titles: list[str]                 # (N,) per encoded item
    genre_vectors: np.ndarray         # (N, G) 0/1
    appeal: np.ndarray                # (U, N) true click probability, sigmoid(logit); on logged pairs an in-sample fit
    world_logged: np.ndarray          # (U, N) bool: pairs the user ever logged (all splits)
    world: grounded.GroundedWorld

    @property
    def num_items(self) -> int:
        return self.prep.num_items

    def novel_appeal(self) -> np.ndarray:
        """(U, N) the appeal of pairs the user never logged, NaN on logged pairs.

        The simulator was fitted to every logged pair (all splits), so its value there is an
        in-sample fit, and the simulator itself never clicks them again; the oracle and the
        appeal of lists use only the pairs it predicts out of sample.
        """
        return np.where(self.world_logged, np.nan, self.appeal)


def load_task(mode: Mode, data_dir: Path, cfg: LAACTaskConfig | None = None) -> Task:
    """Fit the simulator's ground truth, load the slice, keep what both know, align the ids."""
    cfg = cfg or LAACTaskConfig.for_mode(mode)
    world = grounded.load_world(grounded.GroundedConfig.for_mode(mode), data_dir)
    data_cfg = prepare.DataConfig.for_mode(mode, genres=cfg.genres, max_users=cfg.max_users)
    events = prepare.load_events(data_cfg, data_dir)
    known = events["item"].isin(world.item_ids) & events["user"].isin(world.user_ids)
    if not known.any():
        raise ValueError(f"no {data_cfg.dataset} events of the slice {cfg.genres} are known to the simulator; "
                         "use a larger slice or lower GroundedConfig.min_item_users")
    prep = prepare.prepare_events(events[known].reset_index(drop=True), replace(data_cfg, genres=()))
    item_col = pd.Index(world.item_ids).get_indexer(prep.encoded.items)         # (N,)
    user_row = pd.Index(world.user_ids).get_indexer(prep.encoded.users)         # (U,)
    logits = world.logits[user_row][:, item_col].astype(np.float64)
    movies = movielens.load_movies(data_dir)
    vectors, _ = movielens.genre_matrix(movies, prep.encoded.items)
    titles = movies.set_index("item")["title"].loc[prep.encoded.items].tolist()
    return Task(prep, titles, vectors, session.sigmoid(logits), world.logged[user_row][:, item_col], world)


def head_items(train: pd.DataFrame, head_share: float) -> np.ndarray:
    """The ``head_share`` of the items with training events that have the most events (ties by index)."""
    counts = train["item_idx"].value_counts()
    ranked = counts.index[np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))]
    return np.sort(ranked[:max(1, int(round(head_share * len(ranked))))].to_numpy())


def imbalance(train: pd.DataFrame, head_share: float, tail_keep: float, seed: int) -> pd.DataFrame:
    """A head-dominated training log: every event on a head item (:func:`head_items`), a
    ``tail_keep`` share of the rest. The draw is seeded; the frame keeps its (user, time) order."""
    if not (0 < head_share <= 1 and 0 < tail_keep <= 1):
        raise ValueError(f"head_share and tail_keep must be in (0, 1], got {head_share}, {tail_keep}")
    is_head = train["item_idx"].isin(head_items(train, head_share)).to_numpy()
    keep = is_head | (np.random.default_rng(seed).random(len(train)) < tail_keep)
    return train[keep]


def training_logs(task: Task, cfg: LAACTaskConfig) -> dict[str, pd.DataFrame]:
    """``{"balanced": the training split, "imbalanced": its thinned variant}``."""
    train = task.prep.train
    return {"balanced": train, "imbalanced": imbalance(train, cfg.head_share, cfg.tail_keep, cfg.seed)}


def seen_items(frame: pd.DataFrame, num_users: int) -> list[np.ndarray]:
    """(U,) arrays: each user's distinct training items."""
    groups = frame.groupby("user_idx")["item_idx"].unique()
    return [np.sort(groups.get(u, np.empty(0, dtype=np.int64))).astype(np.int64) for u in range(num_users)]


def liked_sequences(frame: pd.DataFrame) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per user, the training items in order and whether each was liked (a "purchase")."""
    liked = {u: b == "purchase" for u, b in sequences.user_sequences(frame, "behaviour").items()}
    return sequences.user_sequences(frame), liked


def pick_from_pools(pools: list[np.ndarray], value: np.ndarray | None, k: int, seed: int) -> np.ndarray:
    """(U, K) per user: the ``k`` pool items of highest ``value[u]`` (oracle; NaN values are never
    picked), or ``k`` at random (``value=None``, seeded by ``(seed, u)``); -1 pads short lists."""
    out = np.full((len(pools), k), -1, dtype=np.int64)
    for u, pool in enumerate(pools):
        if value is None:
            chosen = np.random.default_rng([seed, u, 1]).permutation(pool)[:k]
        else:
            v = value[u, pool]
            pool, v = pool[~np.isnan(v)], v[~np.isnan(v)]
            chosen = pool[np.argsort(-v, kind="stable")[:k]]
        out[u, :len(chosen)] = chosen
    return out


def top_unseen(scores: np.ndarray, seen: list[np.ndarray], k: int) -> np.ndarray:
    """(U, K) the ``k`` best-scored items per user outside ``seen[u]`` (popular, greedy MF)."""
    out = np.empty((len(seen), k), dtype=np.int64)
    for u, items in enumerate(seen):
        s = np.asarray(scores[u] if scores.ndim == 2 else scores, dtype=np.float64).copy()
        s[items] = -np.inf
        out[u] = np.argsort(-s, kind="stable")[:k]
    return out


def list_quality(lists: np.ndarray, task: Task, users: np.ndarray, held_out: dict[int, set]) -> dict[str, float]:
    """Quality of per-user lists (U, K) for ``users``: held-out hits, true appeal, popularity, novelty, ILD.

    ``held_out[u]``: the items u interacts with after training (validation and test).
    ``hit@K``: share of users with a held-out item in their list. ``appeal``: mean true click
    probability of the listed items the user never logged (:meth:`Task.novel_appeal`), with
    ``share_in_log`` the share of listed items the user did log (any split). ``popularity``: mean
    training users per listed item. Novelty and genre ILD: over the users whose list is full.
    """
    from recrl_core.eval import metrics

    rows = lists[users]
    valid = rows >= 0
    owner = users[:, None].repeat(rows.shape[1], 1)[valid]                       # (V,) the user of each item
    pop = task.prep.item_users()
    hits = [bool(set(r[r >= 0].tolist()) & held_out.get(int(u), set())) for u, r in zip(users, rows)]
    full = rows[valid.all(axis=1)]
    return {"hit@K": float(np.mean(hits)),
            "appeal": float(np.nanmean(task.novel_appeal()[owner, rows[valid]])),
            "share_in_log": float(task.world_logged[owner, rows[valid]].mean()),
            "popularity": float(pop[rows[valid]].mean()),
            "novelty": metrics.novelty_at_k(full, pop, task.prep.num_train_users) if len(full) else float("nan"),
            "ild_genre": metrics.ild_at_k(full, task.genre_vectors) if len(full) else float("nan")}
