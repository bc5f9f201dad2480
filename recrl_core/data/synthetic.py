"""A tiny deterministic interaction log with known ground truth, for unit tests and exercises.

Generative story (all draws from the ``rng`` argument, so one seed gives one dataset):

1. Each user has a taste over genres, ``user_taste[u] ~ Dirichlet(0.5)``: a
   small concentration makes most users prefer one or two genres.
2. Each item has one genre, or two with probability 0.3 (``item_genres``, 0/1).
3. ``true_affinity[u, i]`` = the user's mean taste over the item's genres, in [0, 1].
4. Users pick items without repeats with probability
   ``softmax(true_affinity / TEMPERATURE + popularity)``; ``popularity`` is a
   Zipf-like log-weight over a random item ranking, which gives a long tail.
5. Rating = ``1 + 4 * affinity / (user's largest taste) + noise``, rounded to
   0.5 steps and clipped to [0.5, 5.0]: it rises with the user's true taste.
6. Each user starts within the first 30 days and then acts every few hours to
   days, so users overlap in global time and times rise within a user.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recrl_core.data import interactions

GENRES = ("Action", "Comedy", "Drama", "Fantasy", "Romance",
          "Sci-Fi", "Thriller", "Horror", "Mystery", "Documentary")
ADJECTIVES = ("Silver", "Hidden", "Broken", "Golden", "Silent", "Crimson", "Last", "Frozen",
              "Wild", "Distant", "Burning", "Quiet", "Lost", "Iron", "Velvet", "Hollow")
NOUNS = ("Harbour", "Kingdom", "Garden", "River", "Letter", "Mountain", "Promise", "Station",
         "Forest", "Mirror", "Voyage", "Castle", "Summer", "Bridge", "Island", "Crown")
TASTE_CONCENTRATION = 0.5   # Dirichlet alpha: < 1 gives peaked tastes
SECOND_GENRE_PROB = 0.3
TEMPERATURE = 0.15          # affinity is in [0, 1]; 0.15 makes taste clearly visible in choices
POPULARITY_EXPONENT = 1.5   # Zipf exponent: top 20 % of items get about half of all events
RATING_NOISE = 0.5          # std of the rating noise, in stars
START_TIME = 1_577_836_800  # 2020-01-01 00:00 UTC


@dataclass(frozen=True)
class SyntheticData:
    """A generated log and the truth behind it (U users, N items, G genres).

    User ids are 0..U-1 and item ids 0..N-1, so ``true_affinity[user, item]``
    indexes directly with the ids in ``interactions``.
    """

    interactions: pd.DataFrame   # schema frame, event="rating", sorted by (user, time, item)
    items: pd.DataFrame          # item, title, genres ("A|B"), year
    user_taste: np.ndarray       # (U, G) rows sum to 1
    item_genres: np.ndarray      # (N, G) 0/1, every row has 1 or 2 ones
    true_affinity: np.ndarray    # (U, N) in [0, 1]
    choice_logits: np.ndarray    # (U, N) affinity / temperature + popularity: how users pick items


def _item_genres(num_items: int, num_genres: int, rng: np.random.Generator) -> np.ndarray:
    """(N, G) 0/1 matrix: one random genre per item, a second one with prob SECOND_GENRE_PROB."""
    genres = np.zeros((num_items, num_genres), dtype=np.int64)
    genres[np.arange(num_items), rng.integers(num_genres, size=num_items)] = 1
    for i in np.flatnonzero(rng.random(num_items) < SECOND_GENRE_PROB):
        others = np.flatnonzero(genres[i] == 0)
        if others.size:
            genres[i, rng.choice(others)] = 1
    return genres


def _items_table(item_genres: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Titles like "The Silver Harbour (1994)" (unique while N <= 256), genres, years."""
    num_items = len(item_genres)
    combos = len(ADJECTIVES) * len(NOUNS)
    picks = rng.choice(combos, size=num_items, replace=num_items > combos)
    years = rng.integers(1950, 2021, size=num_items)
    titles = [f"The {ADJECTIVES[p // len(NOUNS)]} {NOUNS[p % len(NOUNS)]} ({y})"
              for p, y in zip(picks, years)]
    genres = ["|".join(GENRES[g] for g in np.flatnonzero(row)) for row in item_genres]
    return pd.DataFrame({"item": np.arange(num_items), "title": titles,
                         "genres": genres, "year": years})


def _popularity(num_items: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) log-weights -s * log(rank) over a random ranking of the items: a long tail."""
    ranks = rng.permutation(num_items) + 1
    return -POPULARITY_EXPONENT * np.log(ranks)


def _user_events(user: int, affinity: np.ndarray, taste_max: float, popularity: np.ndarray,
                 count: int, rng: np.random.Generator) -> pd.DataFrame:
    """One user's ``count`` events: items without repeats, ratings, rising times.

    Args:
        affinity: (N,) the user's true affinity to every item.
        taste_max: the user's largest genre taste (scales ratings to the user).
        popularity: (N,) item log-weights.
    """
    logits = affinity / TEMPERATURE + popularity
    probs = np.exp(logits - logits.max())
    items = rng.choice(len(affinity), size=count, replace=False, p=probs / probs.sum())
    raw = 1.0 + 4.0 * affinity[items] / taste_max + rng.normal(0.0, RATING_NOISE, size=count)
    ratings = np.clip(np.round(raw * 2.0) / 2.0, 0.5, 5.0)
    start = START_TIME + int(rng.integers(0, 30 * 86_400))
    gaps = rng.integers(3_600, 3 * 86_400, size=count)  # 1 hour to 3 days, never 0
    return pd.DataFrame({"user": user, "item": items, "time": start + np.cumsum(gaps),
                         "value": ratings, "event": "rating"})


def make_synthetic(num_users: int = 30, num_items: int = 60, num_genres: int = 5,
                   events_per_user: tuple[int, int] = (8, 20), *,
                   rng: np.random.Generator) -> SyntheticData:
    """Generate a small rating log with known tastes and affinities.

    Args:
        num_users: U.
        num_items: N.
        num_genres: G, at most ``len(GENRES)`` (10).
        events_per_user: (low, high) inclusive range of events per user; high <= N.
        rng: the only source of randomness; the same seed gives identical output.
    Returns:
        :class:`SyntheticData` with interactions of shape (sum of events, 5).
    Raises:
        ValueError: for sizes the generator cannot honour.
    """
    low, high = events_per_user
    if not 1 <= num_genres <= len(GENRES):
        raise ValueError(f"num_genres must be in 1..{len(GENRES)}, got {num_genres}")
    if not 1 <= low <= high <= num_items:
        raise ValueError(f"events_per_user {events_per_user} must satisfy 1 <= low <= high <= "
                         f"num_items ({num_items})")
    user_taste = rng.dirichlet(np.full(num_genres, TASTE_CONCENTRATION), size=num_users)  # (U, G)
    item_genres = _item_genres(num_items, num_genres, rng)                              # (N, G)
    items = _items_table(item_genres, rng)
    true_affinity = user_taste @ item_genres.T / item_genres.sum(axis=1)                # (U, N)
    popularity = _popularity(num_items, rng)
    counts = rng.integers(low, high + 1, size=num_users)
    logs = [_user_events(u, true_affinity[u], user_taste[u].max(), popularity, int(counts[u]), rng)
            for u in range(num_users)]
    frame = interactions.validate(pd.concat(logs, ignore_index=True), source="synthetic")
    return SyntheticData(interactions=interactions.sort_chronologically(frame), items=items,
                         user_taste=user_taste, item_genres=item_genres,
                         true_affinity=true_affinity,
                         choice_logits=true_affinity / TEMPERATURE + popularity[None, :])
