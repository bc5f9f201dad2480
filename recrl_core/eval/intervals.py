"""How sure a difference is: the mean with its Student-t interval, a verdict, and the sample it would need.

Online results differ from seed to seed; a method is compared with a reference by
the per-seed differences (paired: same seed, same users, same random numbers). Offline,
two models ranked on the same test events are compared event by event, with users as
the resampled unit (:func:`cluster_bootstrap`). A claim is *decided* only when the
interval excludes zero.

Spec: spec-ialp-built (book/appendix/ialp.md), Measurement.
Taught in: sec-ialp-online, sec-sasrec
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float         # NaN with fewer than two values
    high: float
    n: int

    @property
    def verdict(self) -> str:
        """"better" (low > 0), "worse" (high < 0) or "undecided"."""
        return "better" if self.low > 0 else "worse" if self.high < 0 else "undecided"

    def text(self, digits: int = 2) -> str:
        """e.g. "+0.31 (95 % CI +0.05 to +0.57; better)"."""
        f = f"{{:+.{digits}f}}"
        return f"{f.format(self.mean)} (95 % CI {f.format(self.low)} to {f.format(self.high)}; {self.verdict})"


def t_interval(values, level: float = 0.95) -> Interval:
    """Mean of ``values`` (e.g. per-seed differences) and its two-sided Student-t interval.

    .. math::  \\bar d \\pm t_{(1 + \\text{level})/2,\\; n-1}\\; s_d / \\sqrt n
    """
    from scipy import stats

    d = np.asarray(values, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError(f"need a non-empty 1-D array of values, got shape {d.shape}")
    mean = float(d.mean())
    if len(d) < 2:
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return Interval(mean, mean - half, mean + half, len(d))


def paired_sample_size(differences, power: float = 0.8, level: float = 0.95) -> float:
    """Units (users) a paired two-sided z-test would need to detect the observed mean difference.

    .. math::  n = \\big((z_{1-\\alpha/2} + z_{\\text{power}})\\, s_d / \\bar d\\big)^2

    for per-unit differences ``d`` (1-D, e.g. a user's mean reward under A minus under B);
    ``inf`` when the observed difference is 0. A planning figure: it treats the observed
    difference and spread as the truth.
    """
    from statistics import NormalDist

    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"need a 1-D array of at least two differences, got shape {d.shape}")
    if d.mean() == 0:
        return float("inf")
    z = NormalDist().inv_cdf(1 - (1 - level) / 2) + NormalDist().inv_cdf(power)
    return float((z * d.std(ddof=1) / d.mean()) ** 2)


def cluster_bootstrap(values, clusters, rng: np.random.Generator, *, resamples: int = 2000,
                      level: float = 0.95) -> Interval:
    """Mean of ``values`` (e.g. per-event metric differences) with a percentile interval that resamples clusters.

    Events of one user are not independent, so users (``clusters``, one label per value)
    are drawn with replacement and every drawn user brings all their events; each
    resample's estimate is the event-weighted mean ``sum(w_u s_u) / sum(w_u c_u)`` (s_u,
    c_u: a user's sum and count, w_u: how often the user was drawn). ``n`` counts clusters.
    """
    v = np.asarray(values, dtype=np.float64)
    labels = np.asarray(clusters)
    if v.ndim != 1 or len(v) == 0 or labels.shape != v.shape:
        raise ValueError(f"need equal-length 1-D values and clusters, got shapes {v.shape} and {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    sums, counts = np.bincount(inverse, weights=v), np.bincount(inverse).astype(np.float64)     # (U,)
    U = len(sums)
    if U < 2:
        return Interval(float(v.mean()), float("nan"), float("nan"), U)
    draws = rng.multinomial(U, np.full(U, 1.0 / U), size=resamples).astype(np.float64)           # (R, U)
    estimates = (draws @ sums) / (draws @ counts)                                                # (R,)
    low, high = np.quantile(estimates, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(v.mean()), float(low), float(high), U)
