"""The simulated reader: an explanation-aware click model, the Shielded RecRL chapter's CTR evaluator.

A user u sees item i with an explanation text and clicks with

.. math::

    p = \\sigma\\big(a\\,\\ell_{u,i} + q\\,\\min(w/40, 1) + m\\,\\bar t_{u}(\\text{named})
        - f\\,\\#\\text{false claims} + b_u\\big)

where :math:`\\ell_{u,i}` is the true click logit of the grounded world
(:class:`recrl_core.envs.grounded.GroundedWorld`), :math:`w` the number of words,
:math:`\\bar t_{u}` the user's mean *true* taste over the genres the text names
(:func:`genre_tastes`), a false claim a named genre the item does not have, and
:math:`b_u \\sim N(0, s^2)` a per-user bias. The model is **not** a training
reward: it judges explanations by held-out true tastes, never by what was clicked.

Clicks use common random numbers: the uniforms of a row depend only on the seed,
the user id and the draw index, so two explainers evaluated on the same users
face the same click randomness (a uniformly higher probability never gives fewer
clicks) and the result does not depend on batch order. :func:`relative_ctr`
compares two explainers with a paired percentile bootstrap over users.

Reference: the SimpleUser simulator of public explainable-recommendation code
    (alpha_sim, beta_sim, q_expl); the match and false-claim terms are Proposed.
Spec: spec-shielded-reader (book/appendix/shielded.md).
Taught in: sec-shielded-ctr
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.data.genre_words import false_genres, mentioned_genres
from recrl_core.envs.session import sigmoid

QUALITY_WORDS = 40  # words at which the quality term saturates (Public code: q_expl)


@dataclass(frozen=True)
class ClickConfig:
    affinity_weight: float = 1.0     # weight of the true click logit of (u, i) (Public code: SimpleUser alpha_sim)
    quality_weight: float = 0.5      # weight of min(words / 40, 1) (Public code: beta_sim, q_expl)
    match_weight: float = 1.0        # weight of the user's true taste for the genres the text names (Proposed)
    false_claim_weight: float = 0.5  # logit lost per named genre the item does not have (Proposed)
    user_noise: float = 0.3          # std of the per-user bias b_u ~ N(0, 0.3^2) (Public code)
    draws: int = 20                  # Bernoulli click draws per (user, explanation) (Proposed)
    seed: int = 0                    # user biases and click uniforms

    # The evaluator's semantics are the same in every mode; run size is the number of users evaluated.
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        if self.draws < 1:
            raise ValueError(f"draws must be at least 1, got {self.draws}")
        if self.user_noise < 0:
            raise ValueError(f"user_noise must be non-negative, got {self.user_noise}")

    @classmethod
    def for_mode(cls, mode: Mode, **overrides) -> "ClickConfig":
        """The same config in every mode (nothing to size); ``overrides`` change weights or seed."""
        sizes = {Mode.FULL: {}, Mode.BOOK: {}, Mode.SMOKE: {}}[mode]
        return replace(cls(**overrides), **sizes)


def genre_tastes(world) -> np.ndarray:
    """Each user's true taste per genre, z-scored across genres.

    Args:
        world: a :class:`~recrl_core.envs.grounded.GroundedWorld` (or anything with
            ``logits`` (U, N) and ``item_genres`` (N, G)).

    Returns:
        (U, G) float64: the mean true click probability :math:`\\sigma(\\ell_{u,i})` over
        the items of each genre (logged pairs included: this is the user's taste, not
        their clicks), z-scored across the genres that have items (population std); genres
        without items, and users whose genre means are all equal, get 0.
    """
    probs = sigmoid(np.asarray(world.logits, dtype=np.float64))      # (U, N)
    genres = np.asarray(world.item_genres, dtype=np.float64)           # (N, G)
    counts = genres.sum(axis=0)                                        # (G,)
    has = counts > 0
    means = probs @ genres[:, has] / counts[has]                       # (U, G_has)
    centred = means - means.mean(axis=1, keepdims=True)
    std = means.std(axis=1, keepdims=True)                             # (U, 1)
    z = np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)
    tastes = np.zeros((probs.shape[0], genres.shape[1]))               # (U, G)
    tastes[:, has] = z
    return tastes


def _check_ids(ids, bound: int, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        if ids.size == 0 and ids.ndim == 1:
            return ids.astype(np.int64)
        raise ValueError(f"{name} must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= bound):
        raise ValueError(f"{name} must lie in [0, {bound}), got values in [{ids.min()}, {ids.max()}]")
    return ids.astype(np.int64)


class ExplanationClickModel:
    """Simulated clicks on (user, item, explanation) triples of a grounded world.

    Args:
        world: a :class:`~recrl_core.envs.grounded.GroundedWorld` (``logits`` (U, N),
            ``item_genres`` (N, G), ``genre_names``).
        cfg: weights, number of draws, seed.
    """

    def __init__(self, world, cfg: ClickConfig = ClickConfig()):
        self.world = world
        self.cfg = cfg
        self.logits = np.asarray(world.logits)                                    # (U, N)
        self.item_genres = np.asarray(world.item_genres) > 0                      # (N, G) bool
        if self.item_genres.shape != (self.logits.shape[1], len(world.genre_names)):
            raise ValueError(f"item_genres has shape {self.item_genres.shape}, expected "
                             f"({self.logits.shape[1]}, {len(world.genre_names)}) from logits and genre_names")
        self.genre_names = list(world.genre_names)
        self.genre_index = {g: k for k, g in enumerate(self.genre_names)}
        self.tastes = genre_tastes(world)                                         # (U, G)
        rng = np.random.default_rng(cfg.seed)
        self.user_bias = rng.normal(0.0, cfg.user_noise, size=self.logits.shape[0])  # (U,)

    def _validate(self, users, items, texts) -> tuple[np.ndarray, np.ndarray, list[str]]:
        num_users, num_items = self.logits.shape
        users = _check_ids(users, num_users, "users")
        items = _check_ids(items, num_items, "items")
        texts = list(texts)
        if not len(users) == len(items) == len(texts):
            raise ValueError(f"users, items and texts must have the same length, got "
                             f"{len(users)}, {len(items)}, {len(texts)}")
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be strings")
        return users, items, texts

    def _named(self, text: str) -> list[int]:
        """Column indices of the world's genres that ``text`` names, in column order."""
        return sorted(self.genre_index[g] for g in mentioned_genres(text) if g in self.genre_index)

    def _false_claims(self, text: str, item: int) -> int:
        """Named genres of the world that ``item`` does not have."""
        item_genres = [g for g, has in zip(self.genre_names, self.item_genres[item]) if has]
        return len(false_genres(text, item_genres) & self.genre_index.keys())

    def components(self, users: np.ndarray, items: np.ndarray, texts: Sequence[str]) -> pd.DataFrame:
        """One row per (user, item, text) with every term of the click logit.

        Args:
            users: (B,) int user indices of the world.
            items: (B,) int item indices (catalogue columns).
            texts: B explanations.

        Returns:
            (B, 9) frame: user, item, affinity, quality, match, false_claims, user_bias,
            logit, probability.
        """
        users, items, texts = self._validate(users, items, texts)
        cfg = self.cfg
        affinity = self.logits[users, items].astype(np.float64)                   # (B,)
        quality = np.array([min(len(t.split()) / QUALITY_WORDS, 1.0) for t in texts])  # (B,)
        named = [self._named(t) for t in texts]
        match = np.array([self.tastes[u, g].mean() if g else 0.0 for u, g in zip(users, named)])
        false_claims = np.array([self._false_claims(t, i) for t, i in zip(texts, items)], dtype=np.int64)  # (B,)
        bias = self.user_bias[users]                                              # (B,)
        logit = (cfg.affinity_weight * affinity + cfg.quality_weight * quality
                 + cfg.match_weight * match - cfg.false_claim_weight * false_claims + bias)
        return pd.DataFrame({"user": users, "item": items, "affinity": affinity, "quality": quality,
                             "match": match, "false_claims": false_claims, "user_bias": bias,
                             "logit": logit, "probability": sigmoid(logit)})

    def probability(self, users: np.ndarray, items: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(B,) click probabilities."""
        return self.components(users, items, texts)["probability"].to_numpy()

    def uniforms(self, users: np.ndarray) -> np.ndarray:
        """(B, draws) common random numbers: row b depends only on (seed, users[b])."""
        users = _check_ids(users, self.logits.shape[0], "users")
        draws = self.cfg.draws
        rows = [np.random.default_rng([self.cfg.seed, 1, int(u)]).random(draws) for u in users]
        return np.array(rows).reshape(len(users), draws)                          # (B, draws)

    def clicks(self, users: np.ndarray, items: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(B, draws) bool Bernoulli clicks with common random numbers per user."""
        p = self.probability(users, items, texts)                                 # (B,)
        return self.uniforms(users) < p[:, None]                                  # (B, draws)


def relative_ctr(clicks_new: np.ndarray, clicks_base: np.ndarray, *, boots: int = 2000,
                 level: float = 0.95, seed: int = 0) -> dict:
    """CTR of a new explainer relative to a base one, with a paired bootstrap over users.

    Args:
        clicks_new: (B, R) bool clicks of the new explainer.
        clicks_base: (B, R) bool clicks of the base explainer, for the same B users (row b = same user).
        boots: bootstrap resamples; each resamples user rows with replacement, the same rows for both.
        level: coverage of the percentile interval.
        seed: bootstrap seed.

    Returns:
        dict: ctr_new, ctr_base, ratio (ctr_new / ctr_base), low, high (percentile interval of
        the ratio), p_above_one (share of bootstrap ratios > 1), users (B). Resamples whose
        base CTR is 0 are dropped from low, high and p_above_one.
    """
    new = np.asarray(clicks_new, dtype=np.float64)
    base = np.asarray(clicks_base, dtype=np.float64)
    if new.ndim != 2 or new.shape != base.shape:
        raise ValueError(f"clicks_new and clicks_base must be (B, R) arrays of the same shape, "
                         f"got {new.shape} and {base.shape}")
    if new.shape[0] == 0 or new.shape[1] == 0:
        raise ValueError(f"need at least one user and one draw, got shape {new.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    ctr_new, ctr_base = new.mean(), base.mean()
    if ctr_base == 0:
        raise ValueError("the base CTR is 0: the ratio is undefined")
    per_new, per_base = new.mean(axis=1), base.mean(axis=1)                      # (B,)
    rows = np.random.default_rng(seed).integers(0, len(per_new), size=(boots, len(per_new)))  # (boots, B)
    boot_new, boot_base = per_new[rows].mean(axis=1), per_base[rows].mean(axis=1)  # (boots,)
    ok = boot_base > 0
    ratios = boot_new[ok] / boot_base[ok]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return {"ctr_new": float(ctr_new), "ctr_base": float(ctr_base), "ratio": float(ctr_new / ctr_base),
            "low": float(low), "high": float(high), "p_above_one": float(np.mean(ratios > 1)),
            "users": int(new.shape[0])}
