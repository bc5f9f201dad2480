"""The explanation-aware click model and the relative-CTR bootstrap, on a hand-made world."""

import dataclasses
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from recrl_core.config import Mode
from recrl_core.methods.shielded.click_model import ClickConfig, ExplanationClickModel, genre_tastes, relative_ctr

GENRES = ["Comedy", "Fantasy", "Romance", "Horror"]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fake_world():
    """U=5 users, N=6 items, G=4 genres; user 0 loves comedy and hates horror."""
    item_genres = np.array([[1, 0, 0, 0],    # 0 Comedy
                            [0, 1, 0, 0],    # 1 Fantasy
                            [1, 1, 0, 0],    # 2 Comedy Fantasy
                            [0, 0, 1, 0],    # 3 Romance
                            [0, 0, 0, 1],    # 4 Horror
                            [0, 0, 1, 1]],   # 5 Romance Horror
                           dtype=np.float64)
    logits = np.array([[2.0, 0.0, 1.0, 0.0, -3.0, -1.0],
                       [-1.0, 1.0, 0.0, 0.5, 2.0, 1.0],
                       [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                       [0.5, -0.5, 1.5, -1.0, 0.2, 0.3],
                       [-2.0, 2.0, 0.1, 1.0, -1.0, 0.0]], dtype=np.float32)
    logged = np.zeros_like(logits, dtype=bool)
    logged[0, 0] = logged[1, 4] = True
    return SimpleNamespace(logits=logits, item_genres=item_genres, genre_names=list(GENRES), logged=logged)


def test_config_is_frozen_and_the_same_in_every_mode():
    assert all(ClickConfig.for_mode(mode) == ClickConfig() for mode in Mode)
    assert ClickConfig.SIZE_FIELDS == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClickConfig().seed = 1
    with pytest.raises(ValueError, match="draws"):
        ClickConfig(draws=0)


def test_genre_tastes_by_hand():
    # 2 users, 3 items, 3 genres; the last genre has no items
    world = SimpleNamespace(logits=np.array([[0.0, np.log(3.0), -np.log(3.0)],
                                             [0.0, 0.0, 0.0]]),
                            item_genres=np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]]), genre_names=["A", "B", "C"])
    tastes = genre_tastes(world)
    # user 0: probabilities 0.5, 0.75, 0.25 -> genre A mean 0.625, genre B mean 0.5 -> z = +1, -1
    np.testing.assert_allclose(tastes[0], [1.0, -1.0, 0.0])
    # user 1: all equal -> no spread -> zeros
    np.testing.assert_allclose(tastes[1], [0.0, 0.0, 0.0])
    assert tastes.shape == (2, 3) and tastes.dtype == np.float64


def test_genre_tastes_include_logged_pairs():
    world = fake_world()
    same = SimpleNamespace(**{**vars(world), "logged": np.zeros_like(world.logged)})
    np.testing.assert_array_equal(genre_tastes(world), genre_tastes(same))
    assert genre_tastes(world)[0].argmax() == 0 and genre_tastes(world)[0].argmin() == 3


def test_components_by_hand():
    world = fake_world()
    cfg = ClickConfig(affinity_weight=1.0, quality_weight=0.5, match_weight=1.0, false_claim_weight=0.5)
    model = ExplanationClickModel(world, cfg)
    text = "A funny fantasy tale."                      # names Comedy and Fantasy; 4 words
    row = model.components(np.array([3]), np.array([1]), [text]).iloc[0]   # item 1: Fantasy only
    tastes = genre_tastes(world)
    assert row["affinity"] == pytest.approx(-0.5)
    assert row["quality"] == pytest.approx(4 / 40)
    assert row["match"] == pytest.approx((tastes[3, 0] + tastes[3, 1]) / 2)
    assert row["false_claims"] == 1
    assert row["user_bias"] == pytest.approx(model.user_bias[3])
    logit = -0.5 + 0.5 * 0.1 + row["match"] - 0.5 * 1 + model.user_bias[3]
    assert row["logit"] == pytest.approx(logit)
    assert row["probability"] == pytest.approx(sigmoid(logit))


def test_components_without_genres_and_long_texts():
    model = ExplanationClickModel(fake_world())
    long_text = " ".join(["word"] * 60) + " thriller"   # Thriller is not a genre of this world
    frame = model.components(np.array([0, 0]), np.array([2, 2]), ["", long_text])
    np.testing.assert_array_equal(frame["match"], [0.0, 0.0])
    np.testing.assert_array_equal(frame["false_claims"], [0, 0])
    np.testing.assert_allclose(frame["quality"], [0.0, 1.0])
    assert list(frame.columns) == ["user", "item", "affinity", "quality", "match", "false_claims",
                                   "user_bias", "logit", "probability"]


def test_liked_genre_beats_disliked_genre():
    model = ExplanationClickModel(fake_world())
    tastes = genre_tastes(fake_world())[0]
    assert tastes[2] > tastes[3]                                   # user 0 prefers Romance to Horror
    # item 5 has Romance and Horror: naming either is no false claim; same word count
    p_romance, p_horror = model.probability(np.array([0, 0]), np.array([5, 5]),
                                            ["A romance to enjoy.", "A horror to enjoy."])
    assert p_romance > p_horror


def test_false_claims_lower_probability():
    # no affinity term: items 0 (Comedy) and 3 (Romance) differ only in whether "comedy" is true
    model = ExplanationClickModel(fake_world(), ClickConfig(affinity_weight=0.0))
    frame = model.components(np.array([2, 2]), np.array([0, 3]), ["A comedy film."] * 2)
    assert list(frame["false_claims"]) == [0, 1]
    assert frame["probability"][1] < frame["probability"][0]
    assert frame["logit"][0] - frame["logit"][1] == pytest.approx(0.5)
    # the cost is exactly false_claim_weight per claim
    no_claim = ExplanationClickModel(fake_world(), ClickConfig(false_claim_weight=0.0))
    with_claim = ExplanationClickModel(fake_world(), ClickConfig(false_claim_weight=0.7))
    args = (np.array([0]), np.array([5]), ["A funny fantasy tale."])    # item 5 lacks both: 2 claims
    diff = no_claim.components(*args)["logit"][0] - with_claim.components(*args)["logit"][0]
    assert diff == pytest.approx(1.4)


def test_invalid_inputs_raise_clear_errors():
    model = ExplanationClickModel(fake_world())
    with pytest.raises(ValueError, match="same length"):
        model.components(np.array([0, 1]), np.array([0, 1]), ["a"])
    with pytest.raises(ValueError, match=r"users must lie in \[0, 5\)"):
        model.probability(np.array([5]), np.array([0]), ["a"])
    with pytest.raises(ValueError, match=r"items must lie in \[0, 6\)"):
        model.clicks(np.array([0]), np.array([-1]), ["a"])
    with pytest.raises(ValueError, match="integer"):
        model.probability(np.array([0.5]), np.array([0]), ["a"])


def test_clicks_are_deterministic_per_seed():
    world = fake_world()
    users, items = np.arange(5), np.arange(5)
    texts = ["A funny fantasy tale."] * 5
    first = ExplanationClickModel(world, ClickConfig(seed=3)).clicks(users, items, texts)
    again = ExplanationClickModel(world, ClickConfig(seed=3)).clicks(users, items, texts)
    other = ExplanationClickModel(world, ClickConfig(seed=4)).clicks(users, items, texts)
    assert first.shape == (5, 20) and first.dtype == bool
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_clicks_do_not_depend_on_row_order_or_batch():
    model = ExplanationClickModel(fake_world(), ClickConfig(draws=200))
    users, items = np.array([0, 1, 2, 3, 4]), np.array([1, 3, 5, 0, 2])
    texts = ["funny", "a romance", "scary stuff", "fantasy", "nothing"]
    full = model.clicks(users, items, texts)
    order = np.array([3, 0, 4, 2, 1])
    shuffled = model.clicks(users[order], items[order], [texts[k] for k in order])
    np.testing.assert_array_equal(shuffled, full[order])
    alone = model.clicks(users[2:3], items[2:3], texts[2:3])
    np.testing.assert_array_equal(alone[0], full[2])


def test_two_explainers_share_uniforms():
    model = ExplanationClickModel(fake_world(), ClickConfig(draws=500))
    users, items = np.arange(5), np.array([2, 2, 2, 2, 2])        # item 2: Comedy, Fantasy
    weak = model.probability(users, items, ["ok"] * 5)
    rich = ["A " + " ".join(["good"] * 38) + " film"] * 5        # 40 words, no genre: only quality rises
    strong = model.probability(users, items, rich)
    assert np.all(strong > weak)
    c_weak, c_strong = model.clicks(users, items, ["ok"] * 5), model.clicks(users, items, rich)
    assert np.all(c_strong | ~c_weak)                              # every weak click is also a strong click
    assert c_strong.sum() > c_weak.sum()


def test_relative_ctr_by_hand():
    new = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)    # 6 / 12
    base = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)   # 3 / 12
    out = relative_ctr(new, base, boots=500, seed=1)
    assert out["ctr_new"] == pytest.approx(0.5) and out["ctr_base"] == pytest.approx(0.25)
    assert out["ratio"] == pytest.approx(2.0)
    assert out["low"] <= out["ratio"] <= out["high"]
    assert out["p_above_one"] == 1.0                                 # new >= base on every user
    assert out["users"] == 3
    assert relative_ctr(new, base, boots=500, seed=1) == out


def test_relative_ctr_identical_inputs_and_errors():
    rng = np.random.default_rng(0)
    clicks = rng.random((50, 10)) < 0.3
    same = relative_ctr(clicks, clicks.copy())
    assert same["ratio"] == 1.0 and same["low"] == 1.0 and same["high"] == 1.0
    assert same["p_above_one"] == 0.0
    with pytest.raises(ValueError, match="same shape"):
        relative_ctr(clicks, clicks[:40])
    with pytest.raises(ValueError, match="base CTR is 0"):
        relative_ctr(clicks, np.zeros_like(clicks))


def test_import_is_light():
    code = "import sys, recrl_core.methods.shielded.click_model; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
