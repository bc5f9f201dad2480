"""The book's plot style and the plot functions shared by chapters.

Functions take ``ax=None``, return the ``Axes`` and never show, save or title a
figure: the notebook owns the caption (in the cell's ``mystnb`` metadata).
"""

from __future__ import annotations

import numpy as np

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_book_style() -> None:
    """Set matplotlib rcParams once per notebook (SVG inline, colour-blind-safe cycle)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.bbox": "tight",
        "axes.prop_cycle": cycler(color=PALETTE), "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "lines.linewidth": 2, "font.size": 10, "legend.frameon": False,
    })
    try:  # only inside IPython: vector figures in the book
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")
    except (ImportError, AttributeError):
        pass


def _axes(ax):
    import matplotlib.pyplot as plt

    return ax if ax is not None else plt.subplots()[1]


def rank_frequency(counts, *, ax=None, label: str | None = None):
    """Log-log rank-frequency curve of interaction counts (the long tail)."""
    ax = _axes(ax)
    ordered = np.sort(np.asarray(counts))[::-1]
    ax.loglog(np.arange(1, len(ordered) + 1), np.maximum(ordered, 1e-1), label=label)
    ax.set_xlabel("item rank by popularity")
    ax.set_ylabel("interactions")
    return ax


def cumulative_share(counts, *, ax=None, label: str | None = None):
    """Share of all interactions covered by the most popular x% of items."""
    ax = _axes(ax)
    ordered = np.sort(np.asarray(counts, dtype=float))[::-1]
    share = np.cumsum(ordered) / ordered.sum()
    ax.plot(100 * np.arange(1, len(ordered) + 1) / len(ordered), 100 * share, label=label)
    ax.set_xlabel("most popular items (%)")
    ax.set_ylabel("interactions covered (%)")
    return ax


def metric_comparison(table, metric: str, *, ax=None, error: str | None = None):
    """Horizontal bars of ``table[metric]`` per row label (optionally with an error column)."""
    ax = _axes(ax)
    values = table[metric]
    xerr = table[error] if error else None
    ax.barh(list(map(str, table.index)), values, xerr=xerr, color=PALETTE[: len(values)])
    ax.invert_yaxis()
    ax.set_xlabel(metric.replace("/", " (") + (")" if "/" in metric else ""))
    return ax


def learning_curve(history, y: str = "loss", *, x: str = "update", ax=None, label: str | None = None):
    """Mean of ``y`` per ``x`` with a shaded +-std band across seeds (if a ``seed`` column varies)."""
    ax = _axes(ax)
    stats = history.groupby(x)[y].agg(["mean", "std"]).fillna(0.0)
    ax.plot(stats.index, stats["mean"], label=label)
    ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
    ax.set_xlabel("updates" if x == "update" else x)
    ax.set_ylabel(y)
    return ax


# --- Chapter 1: data exploration ---
SPLIT_COLOURS = {"train": PALETTE[0], "val": PALETTE[1], "test": PALETTE[3]}


def activity_histogram(counts, *, ax=None, label: str | None = None, bins: int = 30,
                       xlabel: str = "interactions per user"):
    """Histogram of per-user (or per-item) counts on log-spaced bins, log x-axis.

    Args:
        counts: (U,) positive counts, e.g. ratings per user.
    Taught in: sec-interaction-logs
    """
    ax = _axes(ax)
    counts = np.asarray(counts, dtype=float)
    edges = np.geomspace(max(counts.min(), 1.0), max(counts.max(), 2.0), bins + 1)
    ax.hist(counts, bins=edges, label=label, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return ax


def share_over_time(shares, *, ax=None):
    """One line per column of ``shares`` (index = period, values = shares in [0, 1]), in %.

    Args:
        shares: DataFrame, e.g. rows = years, columns = genres.
    Taught in: sec-interaction-logs
    """
    ax = _axes(ax)
    for column in shares.columns:
        ax.plot(shares.index, 100 * shares[column].to_numpy(dtype=float), label=str(column))
    ax.set_xlabel(str(shares.index.name or "period"))
    ax.set_ylabel("share of interactions (%)")
    return ax


def split_timeline(time, row, labels, *, ax=None, size: float = 1.0):
    """Each event as a dot at (date, row), coloured by its train/val/test label.

    Args:
        time: (E,) Unix seconds.
        row: (E,) the y position of each event, e.g. users ordered by first event.
        labels: (E,) strings "train" / "val" / "test".
    The dots are rasterised so that figures with many events stay small as SVG.
    Taught in: sec-splits-and-leakage
    """
    ax = _axes(ax)
    dates = np.asarray(time, dtype="int64").astype("datetime64[s]")
    row, labels = np.asarray(row), np.asarray(labels)
    for name, colour in SPLIT_COLOURS.items():
        keep = labels == name
        ax.scatter(dates[keep], row[keep], s=size, color=colour, label=name, rasterized=True,
                   linewidths=0)
    ax.set_xlabel("time")
    ax.set_ylabel("user")
    return ax
