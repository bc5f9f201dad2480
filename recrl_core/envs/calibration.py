"""From implicit-feedback scores to click probabilities: held-out pairs and Platt scaling.

A matrix-factorisation score says which items a user prefers, not how likely a
click is. Platt scaling fits :math:`p = \\sigma(a\\,s + b)` by logistic
regression on scores of **held-out** pairs: observed pairs the model did not
train on (label 1) and sampled pairs the user never logged (label 0).

The level of the probabilities is a modelling choice: with k sampled negatives
per positive the labels have base rate :math:`1/(1+k)`, and the fitted
probabilities inherit it. The log does not say how often a user would click a
recommendation, so ``k`` is a config field, not a fact.

Reference: Platt, "Probabilistic outputs for support vector machines", 1999.
Taught in: sec-grounded-users
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def platt_fit(scores: np.ndarray, labels: np.ndarray, iterations: int = 50,
              ridge: float = 1e-6) -> tuple[float, float]:
    """Maximum-likelihood (a, b) of ``p = sigmoid(a * score + b)`` by Newton's method.

    Args:
        scores: (M,) model scores.
        labels: (M,) 0/1.
        iterations: Newton steps at most (stops when the step is below 1e-10).
        ridge: tiny L2 term that keeps the Hessian invertible on separable data.
    Returns:
        ``(a, b)`` as floats.
    """
    x = np.column_stack([scores, np.ones_like(scores)]).astype(np.float64)   # (M, 2)
    y = labels.astype(np.float64)
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-x @ w))                                     # (M,)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)     # (2, 2)
        step = np.linalg.solve(hessian, x.T @ (y - p) - ridge * w)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def platt_probability(scores: np.ndarray, a: float, b: float) -> np.ndarray:
    """``sigmoid(a * scores + b)``, any shape."""
    return 1.0 / (1.0 + np.exp(-(a * scores + b)))


def sample_unlogged(users: np.ndarray, logged: np.ndarray, k: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` items per entry of ``users`` drawn uniformly from the items that user never logged.

    Args:
        users: (M,) user indices (one entry per held-out positive).
        logged: (U, N) bool, True for every logged pair.
        k: negatives per entry.
    Returns:
        ``(neg_users (M*k,), neg_items (M*k,))``.
    """
    neg_users = np.repeat(users, k)
    items = rng.integers(logged.shape[1], size=len(neg_users))
    bad = logged[neg_users, items]
    while bad.any():                                                          # redraw logged ones
        items[bad] = rng.integers(logged.shape[1], size=int(bad.sum()))
        bad = logged[neg_users, items]
    return neg_users, items


def calibration_pairs(pos_users: np.ndarray, pos_items: np.ndarray, logged: np.ndarray,
                      k: int, rng: np.random.Generator) -> pd.DataFrame:
    """Held-out positives plus ``k`` sampled unlogged pairs each, split in halves "fit" and "check".

    Returns:
        frame with columns user, item, label (1/0) and half ("fit" / "check"),
        the half drawn at random per row.
    """
    neg_users, neg_items = sample_unlogged(pos_users, logged, k, rng)
    frame = pd.DataFrame({"user": np.concatenate([pos_users, neg_users]),
                          "item": np.concatenate([pos_items, neg_items]),
                          "label": np.r_[np.ones(len(pos_users), int), np.zeros(len(neg_users), int)]})
    frame["half"] = np.where(rng.random(len(frame)) < 0.5, "fit", "check")
    return frame


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability table: per bin of predicted probability, mean prediction and observed rate.

    Bins are quantiles of ``probs`` (equal counts), so every point rests on the same
    number of pairs.

    Returns:
        frame with columns predicted, observed, count; one row per non-empty bin.
    """
    edges = np.unique(np.quantile(probs, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, probs, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": which, "predicted": probs, "observed": labels.astype(float)})
    table = frame.groupby("bin").agg(predicted=("predicted", "mean"), observed=("observed", "mean"),
                                     count=("observed", "size"))
    return table.reset_index(drop=True)
