"""Simulated users: gymnasium API, seeding, batch = loop of singles, quit rule, satiation, calibration, baselines."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from recrl_core.config import Mode
from recrl_core.data.synthetic import GENRES, make_synthetic
from recrl_core.envs import calibration, grounded, interest, policies, session
from recrl_core.eval import metrics

INTEREST = dataclasses.replace(interest.InterestEnvConfig.for_mode(Mode.SMOKE), num_users=50, num_items=40,
                               num_topics=5)
GROUNDED = dataclasses.replace(grounded.GroundedConfig.for_mode(Mode.SMOKE), min_item_users=2, max_turn=20, factors=8,
                               holdout_frac=0.2)


@pytest.fixture(scope="module")
def synthetic_world() -> grounded.GroundedWorld:
    data = make_synthetic(num_users=120, num_items=80, num_genres=5, events_per_user=(10, 30),
                          rng=np.random.default_rng(3))
    genres = pd.DataFrame(data.item_genres, index=np.arange(80), columns=list(GENRES[:5]))
    return grounded.fit_world(grounded.make_log("synthetic", data.interactions, genres), GROUNDED)


def _interest_env(**changes):
    return interest.InterestEnv(dataclasses.replace(INTEREST, **changes))


def _envs(world):
    return [("interest", interest.InterestEnv(INTEREST), interest.InterestVecEnv(INTEREST)),
            ("grounded", grounded.GroundedEnv(GROUNDED, world), grounded.GroundedVecEnv(GROUNDED, world))]


# ---------------------------------------------------------------- gymnasium API and seeding
def test_check_env_passes(synthetic_world):
    for _, env, _ in _envs(synthetic_world):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not having a spec.*")
            check_env(env)


def _trajectory(env, seed: int, actions: np.ndarray) -> list:
    obs, info = env.reset(seed=seed)
    steps = [(obs["items"].tolist(), info["user"])]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(int(action))
        steps.append((obs["items"].tolist(), obs["feedback"].tolist(), reward, terminated, truncated))
        if terminated or truncated:
            break
    return steps


def test_same_seed_same_trajectory_different_seed_different(synthetic_world):
    actions = np.random.default_rng(0).integers(INTEREST.num_items, size=INTEREST.max_turn)
    for name, env, _ in _envs(synthetic_world):
        actions = actions % env.action_space.n
        first, again = _trajectory(env, 11, actions), _trajectory(env, 11, actions)
        assert first == again, name
        others = [_trajectory(env, seed, actions) for seed in (12, 13, 14)]
        assert any(other != first for other in others), name


def test_episode_seeds_are_reproducible_and_distinct():
    seeds = session.episode_seeds(5, 100)
    assert seeds == session.episode_seeds(5, 100) and len(set(seeds)) == 100
    assert seeds != session.episode_seeds(6, 100)


def test_batch_step_equals_loop_of_single_steps(synthetic_world):
    for name, single, vec in _envs(synthetic_world):
        seeds = session.episode_seeds(21, 7)
        actions = np.random.default_rng(1).integers(single.action_space.n, size=(vec.max_turn, 7))
        obs, info = vec.reset(seeds)
        batch = [(obs, None, None, None, info)]
        while not vec.s.done.all():
            batch.append(vec.step(actions[len(batch) - 1]))
        for b, seed in enumerate(seeds):
            obs, info = single.reset(seed=seed)
            assert info["user"] == batch[0][4]["user"][b]
            for t, action in enumerate(actions[:, b]):
                obs, reward, terminated, truncated, info = single.step(int(action))
                v_obs, v_reward, v_term, v_trunc, v_info = batch[t + 1]
                for key in obs:
                    np.testing.assert_array_equal(obs[key], v_obs[key][b], err_msg=f"{name} row {b} t {t}")
                assert (reward, terminated, truncated) == (v_reward[b], v_term[b], v_trunc[b])
                assert info["click_prob"] == v_info["click_prob"][b]
                if terminated or truncated:
                    break


def test_slot_reset_restarts_only_those_rows():
    vec = interest.InterestVecEnv(INTEREST)
    vec.reset(session.episode_seeds(0, 4))
    vec.step(np.array([0, 1, 2, 3]))
    before = vec.observation()
    obs, _ = vec.reset([99], slots=np.array([2]))
    assert obs["length"].tolist() == [1, 1, 0, 1] and obs["step"].tolist() == [1, 1, 0, 1]
    np.testing.assert_array_equal(obs["items"][[0, 1, 3]], before["items"][[0, 1, 3]])


# ---------------------------------------------------------------- quit rule, satiation, budget
def test_quit_rule_by_hand():
    # items 0, 1: category A; item 2: B; item 3: A and B; item 4: none. N = 5 is the empty slot.
    genres = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [0, 0]])
    window = np.array([[5, 5, 5, 0, 2],       # A once, B once
                       [5, 5, 0, 1, 2],       # A twice
                       [5, 5, 0, 1, 2],
                       [3, 2, 0, 1, 2],       # A three times, B three times
                       [5, 5, 5, 5, 5]])      # nothing yet
    actions = np.array([1, 1, 2, 4, 0])
    left = session.quit_by_repetition(window, actions, genres, threshold=1)
    assert left.tolist() == [False, True, False, False, False]
    assert session.quit_by_repetition(window[3:4], np.array([2]), genres, 2).tolist() == [True]
    assert session.quit_by_repetition(window[3:4], np.array([2]), genres, 3).tolist() == [False]


def test_interest_user_leaves_at_the_third_item_of_one_topic():
    env = _interest_env(time_budget=1e6)
    topic = env.vec.world.topic
    same = np.flatnonzero(topic == topic[0])[:3]
    assert len(same) == 3
    env.reset(seed=0)
    flags = [env.step(int(item))[2:4] + (env.vec.s.step[0],) for item in same]
    # threshold 1, window 5: the 1st and 2nd item of a topic pass, the 3rd finds it twice in the window
    assert flags == [(False, False, 1), (False, False, 2), (True, False, 3)]


def _round_robin(topic: np.ndarray, per_topic: int) -> list[int]:
    """Items ordered topic 0, 1, ..., G-1, 0, 1, ...: a topic comes back only every G steps."""
    pools = [np.flatnonzero(topic == g)[:per_topic] for g in range(topic.max() + 1)]
    assert min(len(pool) for pool in pools) == per_topic
    return [int(pool[k]) for k in range(per_topic) for pool in pools]


def test_alternating_topics_run_to_max_turn():
    cfg = dataclasses.replace(INTEREST, num_items=100, time_budget=1e6, max_turn=30)
    env = interest.InterestEnv(cfg)
    env.reset(seed=0)
    for item in _round_robin(env.vec.world.topic, 6):                  # G = 5: each topic once per window
        _, _, terminated, truncated, info = env.step(item)
        assert not terminated and info["quit"] is False
    assert truncated and env.vec.s.step[0] == 30


def test_time_budget_ends_the_session():
    env = _interest_env(num_items=100, time_budget=3.0, quality_bonus=0.0, step_cost=1.0)
    env.reset(seed=0)
    steps = [env.step(item) for item in _round_robin(env.vec.world.topic, 1)[:3]]
    assert [s[2] for s in steps] == [False, False, True] and not steps[-1][4]["quit"]
    assert steps[-1][4]["budget"] == pytest.approx(0.0)


def test_satiation_lowers_click_probability_by_hand():
    vec = interest.InterestVecEnv(dataclasses.replace(INTEREST, satiation_decay=0.5, satiation_weight=1.0))
    vec.reset([0], users=np.array([0]))
    item = 0
    g = vec.world.topic[item]
    p0 = vec.click_probabilities()[0, item]
    vec.step(np.array([item]))
    vec.step(np.array([item]))
    assert vec.s.satiation[0, g] == pytest.approx(0.5 * 1.0 + 1.0)
    logit = INTEREST.click_scale * vec.interest[0, g] + INTEREST.click_bias - 1.5
    assert vec.click_probabilities()[0, item] == pytest.approx(1 / (1 + np.exp(-logit)))
    fresh = INTEREST.click_scale * vec.world.interests[0, g] + INTEREST.click_bias
    assert p0 == pytest.approx(1 / (1 + np.exp(-fresh)))                 # no satiation at the start


def test_interest_moves_towards_plus_one_after_a_click_on_perfect_quality():
    cfg = dataclasses.replace(INTEREST, click_bias=50.0)                # every item is clicked
    world = interest.sample_world(cfg)
    world = dataclasses.replace(world, quality=np.ones(cfg.num_items))  # P(up) = (1 + q) / 2 = 1
    vec = interest.InterestVecEnv(cfg, world)
    vec.reset([0], users=np.array([3]))
    g = world.topic[5]
    theta = world.interests[3, g]
    _, reward, _, _, info = vec.step(np.array([5]))
    assert reward[0] == 1.0 and info["click"][0]
    assert vec.interest[0, g] == pytest.approx(theta + cfg.interest_step * (1.0 - theta))
    assert vec.budget[0] == pytest.approx(cfg.time_budget - cfg.step_cost + cfg.quality_bonus)


# ---------------------------------------------------------------- grounded world and calibration
def test_grounded_world_starts_from_the_log(synthetic_world):
    w = synthetic_world
    assert w.logits.shape == (w.num_users, w.num_items) == w.logged.shape
    p = w.click_probability(np.arange(w.num_users))
    assert ((p >= 0) & (p <= 1)).all() and (p[w.logged] == 0).all() and (p[~w.logged] > 0).all()
    vec = grounded.GroundedVecEnv(GROUNDED, w)
    obs, info = vec.reset(session.episode_seeds(0, 5), users=np.arange(5))
    np.testing.assert_array_equal(vec.seen, w.logged[:5])
    for b in range(5):
        real = obs["items"][b, :obs["length"][b]]
        assert w.logged[b, real].all() and (obs["feedback"][b, :obs["length"][b]] == 1).all()
    _, reward, _, _, info = vec.step(np.flatnonzero(w.logged[0])[:1].repeat(5))
    assert info["click_prob"][0] == 0.0 and reward[0] == 0.0           # logged items are never clicked again


def test_calibration_matches_observed_rate_on_held_out_pairs(synthetic_world):
    check = synthetic_world.calibration.query("half == 'check'")
    rate = 1 / (1 + GROUNDED.negatives_per_positive)
    assert check["label"].mean() == pytest.approx(rate, abs=0.03)
    assert check["prob"].mean() == pytest.approx(check["label"].mean(), abs=0.05)
    assert metrics.auc(check["prob"].to_numpy(), check["label"].to_numpy()) > 0.6
    assert synthetic_world.platt[0] > 0                                  # higher score, more clicks


def test_platt_fit_recovers_known_parameters():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=20_000)
    labels = rng.random(20_000) < calibration.platt_probability(scores, 2.0, -1.0)
    a, b = calibration.platt_fit(scores, labels)
    assert (a, b) == (pytest.approx(2.0, abs=0.1), pytest.approx(-1.0, abs=0.1))
    table = calibration.reliability(calibration.platt_probability(scores, a, b), labels)
    assert table["count"].sum() == 20_000
    np.testing.assert_allclose(table["predicted"], table["observed"], atol=0.05)


def test_auc_by_hand():
    assert metrics.auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)


def test_negatives_are_never_logged():
    logged = np.zeros((3, 6), dtype=bool)
    logged[0, :5] = True
    users, items = calibration.sample_unlogged(np.array([0, 0, 1]), logged, 4, np.random.default_rng(0))
    assert (items[users == 0] == 5).all() and not logged[users, items].any()


# ---------------------------------------------------------------- baselines and rollouts
def test_baselines_never_repeat_and_greedy_is_argmax(synthetic_world):
    vec = grounded.GroundedVecEnv(GROUNDED, synthetic_world)
    users = np.arange(synthetic_world.num_users)
    for policy in (policies.RandomPolicy(), policies.GreedyPolicy(synthetic_world.popularity),
                   policies.GreedyPolicy(synthetic_world.logits), policies.OraclePolicy()):
        roll = policies.rollout(vec, policy, session.episode_seeds(0, len(users)), np.random.default_rng(0), users)
        for b in users:
            shown = roll.actions[b][roll.actions[b] >= 0]
            assert len(set(shown)) == len(shown) and not synthetic_world.logged[b, shown].any()
    vec.reset([0], users=np.array([4]))
    expected = np.where(synthetic_world.logged[4], -np.inf, synthetic_world.logits[4]).argmax()
    assert policies.GreedyPolicy(synthetic_world.logits).act(vec, np.random.default_rng(0))[0] == expected


def test_compare_gives_every_policy_the_same_users(synthetic_world):
    vec = grounded.GroundedVecEnv(GROUNDED, synthetic_world)
    seeds = session.episode_seeds(3, 40)
    a = policies.rollout(vec, policies.RandomPolicy(), seeds, np.random.default_rng(0))
    b = policies.rollout(vec, policies.OraclePolicy(), seeds, np.random.default_rng(1))
    np.testing.assert_array_equal(a.users, b.users)
    table = policies.compare(vec, {"random": policies.RandomPolicy(), "oracle": policies.OraclePolicy()}, seeds, 0)
    summary = a.summary()
    assert table.loc["random", "return"] == pytest.approx(summary["return"].mean())
    assert ((summary["length"] >= 1) & (summary["length"] <= GROUNDED.max_turn)).all()
    assert table.loc["oracle", "expected_return"] > table.loc["random", "expected_return"]


# ---------------------------------------------------------------- configs
# (the SIZE_FIELDS rule and frozenness of every config: tests/unit/test_configs.py)
def test_grounded_config_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="ml-latest-small"):
        grounded.GroundedConfig(dataset="movielens")
