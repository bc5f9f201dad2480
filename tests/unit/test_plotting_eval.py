"""Chapter 2 plot functions: return the Axes, draw what they promise, never title."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from recrl_core import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_metric_label_splits_behaviour():
    assert plotting._metric_label("ndcg@10/purchase") == "ndcg@10 (purchase)"
    assert plotting._metric_label("coverage@10") == "coverage@10"


def test_sampled_metric_curve_one_line_per_model_on_log_x():
    curves = pd.DataFrame({"pop": [0.9, 0.3, 0.08], "knn": [0.95, 0.45, 0.12]}, index=[10, 100, 948])
    ax = plotting.sampled_metric_curve(curves, ylabel="hr@10/all")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [line.get_label() for line in ax.get_lines()] == ["pop", "knn"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.95, 0.45, 0.12]
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "hr@10 (all)"
    assert ax.get_title() == ""


def test_sampled_metric_curve_draws_on_given_axes():
    _, given = plt.subplots()
    curves = pd.DataFrame({"a": [0.5, 0.1]}, index=[10, 100])
    assert plotting.sampled_metric_curve(curves, ax=given) is given


def test_tradeoff_scatter_labels_every_row():
    table = pd.DataFrame({"novelty@10": [3.0, 5.5], "ndcg@10/all": [0.04, 0.07]}, index=["pop", "als"])
    ax = plotting.tradeoff_scatter(table, "novelty@10", "ndcg@10/all")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [t.get_text() for t in ax.texts] == ["pop", "als"]
    offsets = ax.collections[0].get_offsets()
    assert offsets.tolist() == [[3.0, 0.04], [5.5, 0.07]]
    assert ax.get_xlabel() == "novelty@10" and ax.get_ylabel() == "ndcg@10 (all)"
    assert ax.get_title() == ""


def test_hit_rate_curve_is_the_cdf_of_ranks():
    ranks = {"a": [1, 3, float("inf"), 10], "b": [2, 2, 2, 2]}
    ax = plotting.hit_rate_curve(ranks, max_k=10)
    assert isinstance(ax, matplotlib.axes.Axes)
    line_a, line_b = ax.get_lines()
    assert list(line_a.get_xdata()) == list(range(1, 11))
    assert line_a.get_ydata()[0] == 0.25        # k=1: only the rank-1 event
    assert line_a.get_ydata()[2] == 0.5         # k=3: ranks 1 and 3
    assert line_a.get_ydata()[9] == 0.75        # k=10: inf never counts
    assert list(line_b.get_ydata()[:2]) == [0.0, 1.0]
    assert ax.get_xscale() == "log" and ax.get_title() == ""
