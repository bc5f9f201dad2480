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

    _inline_svg_in_kernel()                           # first: the inline backend sets rcParams of its own
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 100, "savefig.bbox": "tight",
        "axes.prop_cycle": cycler(color=PALETTE), "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "lines.linewidth": 2, "font.size": 10, "legend.frameon": False,
    })


def _inline_svg_in_kernel() -> None:
    """Inside a Jupyter kernel: inline backend and SVG figures; elsewhere: nothing."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    # CI and the build export MPLBACKEND=Agg, under which a kernel shows no figures at all;
    # inside a kernel the inline backend is the right one whatever the environment says.
    shell.run_line_magic("matplotlib", "inline")      # also registers the show-at-cell-end hook
    set_matplotlib_formats("svg")


def _metric_label(metric: str) -> str:
    """``"ndcg@10/purchase"`` -> ``"ndcg@10 (purchase)"`` (the book's axis-label form)."""
    name, _, group = metric.partition("/")
    return f"{name} ({group})" if group else name


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
    ax.set_xlabel(_metric_label(metric))
    return ax


def learning_curve(history, y: str = "loss", *, x: str = "update", ax=None, label: str | None = None):
    """Mean of ``y`` per ``x`` with a shaded +-std band across seeds (if a ``seed`` column varies)."""
    ax = _axes(ax)
    rows = history.dropna(subset=[y])          # a history mixes update rows and evaluation rows
    stats = rows.groupby(x)[y].agg(["mean", "std"]).fillna(0.0)
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


# --- Chapter 2: evaluation ---
def sampled_metric_curve(curves, *, ax=None, ylabel: str = "hr@10"):
    """One line per model: a metric against the number of sampled negatives (log x).

    Args:
        curves: DataFrame, index = number of negatives per event (the last row may
            be N - 1, i.e. full ranking), columns = models, values = the metric.
    Taught in: sec-sampled-vs-full
    """
    ax = _axes(ax)
    for column in curves.columns:
        ax.plot(curves.index, curves[column].to_numpy(dtype=float), marker="o", label=str(column))
    ax.set_xscale("log")
    ax.set_xlabel("negatives per event")
    ax.set_ylabel(_metric_label(ylabel))
    return ax


def tradeoff_scatter(table, x: str, y: str, *, ax=None):
    """Each row of ``table`` as a labelled point at ``(table[x], table[y])``.

    Args:
        table: DataFrame, index = model names, columns include ``x`` and ``y``.
    Taught in: sec-beyond-accuracy
    """
    ax = _axes(ax)
    xs, ys = table[x].to_numpy(dtype=float), table[y].to_numpy(dtype=float)
    ax.scatter(xs, ys, color=PALETTE[: len(table)], s=40, zorder=3)
    for row, (label, xv, yv) in enumerate(zip(table.index, xs, ys)):
        # labels alternate above/below their points so neighbours at one height do not collide
        ax.annotate(str(label), (xv, yv), textcoords="offset points", xytext=(5, 4 if row % 2 == 0 else -12))
    ax.margins(x=0.12, y=0.12)
    ax.set_xlabel(_metric_label(x))
    ax.set_ylabel(_metric_label(y))
    return ax


def hit_rate_curve(ranks, *, max_k: int = 100, ax=None):
    """HR@k for k = 1..``max_k`` per model (the empirical CDF of the target's rank), log x.

    Args:
        ranks: dict of model name -> (M,) 1-based ranks (``inf`` = not ranked).
    Taught in: sec-metrics
    """
    ax = _axes(ax)
    ks = np.arange(1, max_k + 1)
    for name, values in ranks.items():
        values = np.asarray(values, dtype=float)
        ax.plot(ks, (values[None, :] <= ks[:, None]).mean(axis=1), label=str(name))
    ax.set_xscale("log")
    ax.set_xlabel("cut-off k")
    ax.set_ylabel("hr@k")
    return ax
