"""The grounded simulators on the real logs: sizes, calibration on held-out pairs, the gymnasium API, baselines."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from recrl_core.config import Mode
from recrl_core.envs import calibration, grounded, policies, session
from recrl_core.eval import metrics

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def worlds(real_data_dir):
    cfgs = {name: grounded.GroundedConfig.for_mode(Mode.BOOK, dataset=name) for name in grounded.DATASETS}
    return {name: (cfg, grounded.load_world(cfg, real_data_dir)) for name, cfg in cfgs.items()}


def test_sizes_and_categories(worlds):
    cfg, ml = worlds["ml-latest-small"]
    assert ml.logits.shape == (610, 2269) and ml.num_log_users == 610     # 2,269 movies rated by >= 10 users
    assert ml.item_genres.shape[1] == 19 and (ml.item_genres.sum(axis=1) > 0).all()
    assert (ml.popularity >= cfg.min_item_users).all()
    _, lfm = worlds["hetrec2011-lastfm-2k"]
    assert lfm.logits.shape == (1892, 1715) and lfm.item_genres.shape[1] == 20
    assert (lfm.item_genres.sum(axis=1) <= 1).all() and (lfm.item_genres.sum(axis=1) == 1).mean() > 0.85


@pytest.mark.parametrize("name", grounded.DATASETS)
def test_calibration_on_held_out_check_pairs(worlds, name):
    cfg, world = worlds[name]
    check = world.calibration.query("half == 'check'")
    probs, labels = check["prob"].to_numpy(), check["label"].to_numpy()
    assert labels.mean() == pytest.approx(1 / (1 + cfg.negatives_per_positive), abs=0.01)
    assert probs.mean() == pytest.approx(labels.mean(), abs=0.02)
    assert metrics.auc(probs, labels) > 0.75
    table = calibration.reliability(probs, labels)
    assert np.abs(table["predicted"] - table["observed"]).max() < 0.08   # Last.fm: worst bin off by 0.06 (a 2-parameter curve)


@pytest.mark.parametrize("name", grounded.DATASETS)
def test_check_env_and_logged_items(worlds, name):
    cfg, world = worlds[name]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not having a spec.*")
        check_env(grounded.GroundedEnv(cfg, world))
    p = world.click_probability(np.arange(world.num_users))
    assert (p[world.logged] == 0).all() and ((p >= 0) & (p <= 1)).all()


def test_movielens_baselines_order(worlds):
    cfg, world = worlds["ml-latest-small"]
    vec = grounded.GroundedVecEnv(cfg, world)
    named = {"random": policies.RandomPolicy(), "popular": policies.GreedyPolicy(world.popularity),
             "greedy": policies.GreedyPolicy(world.logits)}
    table = policies.compare(vec, named, session.episode_seeds(1, world.num_users), 0,
                             users=np.arange(world.num_users))
    assert table.loc["greedy", "return"] > table.loc["popular", "return"] > table.loc["random", "return"]
    assert table.loc["greedy", "ctr"] > table.loc["popular", "ctr"] > table.loc["random", "ctr"]
