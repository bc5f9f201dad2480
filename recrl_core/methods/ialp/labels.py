"""Preference distillation: candidates for logged states, a teacher's choice, and how good the teacher is.

For a logged state (the items the user liked, as text) and M candidates — a seeded
mix of popular items, the base recommender's items (item-kNN on the logs) and random
items, never one the user has seen — a **labeller** gives each candidate a score;
the ``top_k`` best are the positives, :math:`\\hat r(s, a) = \\mathbb 1[a \\in P_s]`:

* ``llm``: the log-likelihood of the candidate's text as the reply to "recommend one
  more" (``llm.candidates.score_candidate_sets``), cached per (model, prompt,
  candidates), so a re-run calls no LLM;
* ``popularity`` (clicks in the logs), ``random``, ``truth`` (the hidden true click
  probability) and ``noisy-truth`` (the truth's logit plus Gaussian noise of std
  ``noise``: the teacher-quality dial; ``noise`` → ∞ is random).

Teacher quality is read against the simulator's hidden truth (:func:`teacher_quality`).

Spec: spec-ialp-losses (book/appendix/ialp.md), step 1.
Taught in: sec-ialp-teacher
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.methods.ialp.ialp_task import Environment

LABELLERS = ("llm", "popularity", "random", "truth", "noisy-truth")
LLM_SCORES = ("likelihood", "pmi")


@dataclass(frozen=True)
class LabelConfig:
    states: int = 2_000         # logged states labelled per environment (Proposed)
    candidates: int = 10        # M candidates per state (Proposed: spec-ialp-losses, 10-20)
    popular_share: float = 0.3  # of the M: sampled by popularity (Proposed)
    base_share: float = 0.3     # of the M: the base recommender's best (item-kNN on the logs; Proposed)
    top_k: int = 1              # positives per state: the teacher's choice (Secondary source: one chosen item)
    history_shown: int = 5      # liked items shown in the prompt (Proposed)
    noise: float = 0.0          # noisy-truth only: std of the noise on the true logit (the dial)
    llm_score: str = "likelihood"  # likelihood | pmi (minus the reply's score with no history) (Proposed)
    seed: int = 0               # states, candidate draws, random labels

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("states",)

    def __post_init__(self):
        if not 0 <= self.popular_share + self.base_share <= 1:
            raise ValueError("popular_share + base_share must lie in [0, 1]")
        if not 1 <= self.top_k < self.candidates:
            raise ValueError(f"top_k must lie in [1, candidates), got {self.top_k} of {self.candidates}")
        if self.llm_score not in LLM_SCORES:
            raise ValueError(f"unknown llm_score {self.llm_score!r}; choose one of: {', '.join(LLM_SCORES)}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LabelConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(states=100), Mode.SMOKE: dict(states=24)}[mode]
        return replace(cls(), **sizes)


def label_rows(env: Environment, cfg: LabelConfig) -> np.ndarray:
    """(S,) the logged states to label: a seeded sample of ``cfg.states`` (all, if fewer)."""
    n = len(env.logs)
    return np.sort(np.random.default_rng(cfg.seed).choice(n, size=min(cfg.states, n), replace=False))


def candidate_pools(seen: np.ndarray, popularity: np.ndarray, base_scores: np.ndarray, cfg: LabelConfig,
                    rng: np.random.Generator) -> np.ndarray:
    """(S, M) candidates per state: popular, base-recommender and random items, distinct and unseen, shuffled.

    Args:
        seen: (S, N) bool, items each state may not be offered (logged or already shown).
        popularity: (N,) popular items are drawn with probability proportional to popularity + 1.
        base_scores: (S, N) the base recommender's scores; its best unseen items join the pool.
    Raises:
        ValueError: a state with fewer than M unseen items (the pool would repeat or be empty).
    """
    m = cfg.candidates
    n_pop, n_base = round(m * cfg.popular_share), round(m * cfg.base_share)
    pools = np.zeros((len(seen), m), dtype=np.int64)
    for j in range(len(seen)):
        allowed = np.flatnonzero(~seen[j])
        if len(allowed) < m:
            raise ValueError(f"state {j} has {len(allowed)} unseen items, fewer than the {m} candidates: "
                             "lower LabelConfig.candidates or drop such states")
        weights = popularity[allowed] + 1.0                                       # +1: every item can be drawn
        pop = rng.choice(allowed, size=n_pop, replace=False, p=weights / weights.sum())
        rest = np.setdiff1d(allowed, pop)
        base = rest[np.argsort(-base_scores[j, rest], kind="stable")[:n_base]]
        rest = np.setdiff1d(rest, base)
        pools[j] = rng.permutation(np.r_[pop, base, rng.choice(rest, size=m - n_pop - n_base, replace=False)])
    return pools


def base_recommender(env: Environment):
    """Item-kNN on the logs' positives (``baselines.itemknn``): the base recommender of the candidate pools."""
    from recrl_core.baselines import itemknn

    users = int(env.log_pairs["user_idx"].max()) + 1 if len(env.log_pairs) else 1
    return itemknn.ItemKNN(users, env.num_items, itemknn.ItemKNNConfig()).fit(env.log_pairs)


def base_scores(knn, items: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(S, N) item-kNN scores of S histories (right-padded items, lengths)."""
    import torch

    return knn.score(None, torch.as_tensor(items), torch.as_tensor(lengths)).numpy()


def liked_texts(item_texts: list[str], items: np.ndarray, feedback: np.ndarray, lengths: np.ndarray) -> list[list[str]]:
    """The texts of the items each history liked (clicked entries), oldest first; (S, L) arrays in."""
    out = []
    for hist, clicks, n in zip(items, feedback, lengths):
        out.append([item_texts[i] for i, c in zip(hist[:n], clicks[:n]) if c > 0])
    return out


def labels_from_scores(scores: np.ndarray, top_k: int) -> np.ndarray:
    """(S, M) scores -> (S, M) float 0/1: the ``top_k`` best of each row are 1 (ties: first candidate)."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]                 # (S, k)
    labels = np.zeros(scores.shape)
    np.put_along_axis(labels, order, 1.0, axis=1)
    return labels


def heuristic_scores(labeller: str, env: Environment, rows: np.ndarray, pools: np.ndarray, cfg: LabelConfig,
                     rng: np.random.Generator) -> np.ndarray:
    """(S, M) scores of the labellers that need no LLM: popularity, random, truth, noisy-truth."""
    truth = np.take_along_axis(env.logs.true_probs[rows], pools, axis=1)          # (S, M)
    if labeller == "popularity":
        return env.popularity[pools] + 1e-9 * rng.random(pools.shape)             # ties broken at random
    if labeller == "random":
        return rng.random(pools.shape)
    if labeller == "truth":
        return truth
    if labeller == "noisy-truth":
        p = np.clip(truth, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p)) + cfg.noise * rng.standard_normal(pools.shape)
    raise ValueError(f"unknown labeller {labeller!r}; choose one of: {', '.join(LABELLERS)}")


def teacher_quality(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How good a teacher's choices are, judged by the hidden truth of the same candidates.

    Args:
        scores: (S, M) the teacher's scores; truth: (S, M) true click probabilities.
    Returns:
        ``choice_p`` mean true probability of the teacher's top candidate, ``mean_p`` of a
        random candidate, ``best_p`` of the truly best; ``lift`` = (choice − mean) / (best − mean)
        (0: no better than chance, 1: always the best); ``top1`` share of states where the
        teacher picks the truly best; ``rank_corr`` mean Spearman correlation per state.
    Taught in: sec-ialp-teacher
    """
    rows = np.arange(len(scores))
    choice = truth[rows, scores.argmax(axis=1)]
    mean, best = truth.mean(axis=1), truth.max(axis=1)
    spread = (best - mean).mean()
    return {"choice_p": float(choice.mean()), "mean_p": float(mean.mean()), "best_p": float(best.mean()),
            "lift": float((choice - mean).mean() / spread) if spread > 0 else 0.0,
            "top1": float((choice >= best).mean()), "rank_corr": _rank_corr(scores, truth)}


def lift_interval(scores: np.ndarray, truth: np.ndarray, rng: np.random.Generator, draws: int = 2000,
                  level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of the teacher's ``lift`` over its labelled states (states resampled with replacement).

    The lift is measured on a sample of logged states; this is how much it could move
    with another sample of the same size. (S, M) arrays in; ``(low, high)`` out.
    Taught in: sec-ialp-teacher
    """
    rows = np.arange(len(scores))
    gain = truth[rows, scores.argmax(axis=1)] - truth.mean(axis=1)                # (S,) choice - mean
    spread = truth.max(axis=1) - truth.mean(axis=1)                               # (S,) best - mean
    picks = rng.integers(len(scores), size=(draws, len(scores)))                  # (D, S)
    den = spread[picks].sum(axis=1)
    lifts = np.where(den > 0, gain[picks].sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(lifts, tail)), float(np.quantile(lifts, 1.0 - tail))


def _rank_corr(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mean Spearman correlation over the rows where both vary (0 if none does)."""
    a = pd.DataFrame(scores).rank(axis=1).to_numpy()
    b = pd.DataFrame(truth).rank(axis=1).to_numpy()
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    den = np.sqrt((a ** 2).sum(1) * (b ** 2).sum(1))
    ok = den > 0
    return float(((a * b).sum(1)[ok] / den[ok]).mean()) if ok.any() else 0.0
