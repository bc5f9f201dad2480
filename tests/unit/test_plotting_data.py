"""Chapter 1 plot functions: they draw what they are given, return the Axes and set no title."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from recrl_core import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_activity_histogram_counts_every_value_once():
    counts = np.array([1, 2, 2, 5, 20, 100])
    ax = plotting.activity_histogram(counts, bins=4)
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == len(counts)          # log-spaced bins cover min..max inclusive
    assert ax.get_xscale() == "log"
    assert ax.get_title() == ""


def test_activity_histogram_draws_on_given_axes():
    _, ax = plt.subplots()
    assert plotting.activity_histogram([3, 4, 5], ax=ax) is ax


def test_share_over_time_plots_percent_per_column():
    shares = pd.DataFrame({"Drama": [0.5, 0.25], "Comedy": [0.1, 0.2]},
                          index=pd.Index([2000, 2001], name="year"))
    ax = plotting.share_over_time(shares)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["Drama", "Comedy"]
    np.testing.assert_allclose(lines[0].get_ydata(), [50.0, 25.0])
    np.testing.assert_allclose(lines[1].get_xdata(), [2000, 2001])
    assert ax.get_xlabel() == "year"
    assert ax.get_title() == ""


def test_split_timeline_one_rasterised_series_per_label():
    time = np.array([0, 86_400, 2 * 86_400, 3 * 86_400])
    labels = np.array(["train", "train", "val", "test"])
    ax = plotting.split_timeline(time, np.array([0, 1, 1, 0]), labels)
    sizes = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
    assert sizes == {"train": 2, "val": 1, "test": 1}
    assert all(c.get_rasterized() for c in ax.collections)
    assert ax.get_title() == ""
