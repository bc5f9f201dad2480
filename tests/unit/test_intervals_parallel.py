"""eval.intervals by hand, and train.parallel: the same results in one process or in two."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recrl_core.config import Mode
from recrl_core.eval import intervals


def test_t_interval_by_hand_and_its_verdict():
    ci = intervals.t_interval([1.0, 2.0, 3.0])                       # mean 2, s = 1, n = 3, t_{0.975, 2} = 4.3027
    half = 4.302652729911275 / np.sqrt(3)
    assert ci.mean == pytest.approx(2.0) and ci.low == pytest.approx(2 - half) and ci.high == pytest.approx(2 + half)
    assert ci.verdict == "undecided" and ci.n == 3
    assert intervals.t_interval([1.0, 1.1, 0.9, 1.0]).verdict == "better"
    assert intervals.t_interval([-1.0, -1.1, -0.9, -1.0]).verdict == "worse"
    assert intervals.t_interval([0.5, 0.7]).text().startswith("+0.60 (95 % CI ")
    one = intervals.t_interval([3.0])
    assert one.mean == 3.0 and np.isnan(one.low) and one.verdict == "undecided"
    with pytest.raises(ValueError, match="non-empty 1-D"):
        intervals.t_interval([])


def test_cluster_bootstrap_resamples_users_with_all_their_events():
    values = np.array([1.0, 1.0, 1.0, 0.0, 0.5, 0.0])
    users = np.array([7, 7, 7, 3, 9, 9])                             # three users: 3 events, 1, 2
    ci = intervals.cluster_bootstrap(values, users, np.random.default_rng(0), resamples=50)
    assert ci.mean == pytest.approx(3.5 / 6) and ci.n == 3
    # by hand: the same draws, each resample's events pooled and averaged
    draws = np.random.default_rng(0).multinomial(3, [1 / 3] * 3, size=50)          # columns: users 3, 7, 9
    pooled = [np.concatenate([np.repeat(values[users == u], w) for u, w in zip((3, 7, 9), row)]).mean()
              for row in draws]
    assert (ci.low, ci.high) == pytest.approx(tuple(np.quantile(pooled, [0.025, 0.975])))
    same = intervals.cluster_bootstrap(np.full(6, 0.2), users, np.random.default_rng(1))
    assert same.low == pytest.approx(0.2) and same.high == pytest.approx(0.2)
    # correlated within users: treating every event as its own cluster understates the spread
    rng = np.random.default_rng(2)
    per_user = rng.normal(0.1, 1.0, size=40)
    v, u = np.repeat(per_user, 10), np.repeat(np.arange(40), 10)
    clustered = intervals.cluster_bootstrap(v, u, np.random.default_rng(3))
    naive = intervals.cluster_bootstrap(v, np.arange(400), np.random.default_rng(3))
    assert clustered.high - clustered.low > 2 * (naive.high - naive.low)
    assert np.isnan(intervals.cluster_bootstrap([1.0, 2.0], [5, 5], rng).low)
    with pytest.raises(ValueError, match="equal-length 1-D"):
        intervals.cluster_bootstrap([1.0, 2.0], [1], rng)


def test_map_jobs_gives_the_same_runs_in_one_process_and_in_two(tmp_path, monkeypatch):
    from recrl_core.methods.ialp import adaptation, ialp_task, labels, learned_env, pipeline, reward_model
    from recrl_core.train import online, parallel

    env = ialp_task.make_environment("interest", Mode.SMOKE, data_dir=None)
    cfg = labels.LabelConfig.for_mode(Mode.SMOKE)
    jobs = [pipeline.OnlineJob(env, pipeline.teach(env, "truth", cfg), pipeline.teach(env, "random", cfg),
                               reward_model.RewardModelConfig.for_mode(Mode.SMOKE),
                               dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=6),
                               learned_env.LearnedEnvConfig.for_mode(Mode.SMOKE),
                               adaptation.AdaptConfig.for_mode(Mode.SMOKE), seed, 4, 2) for seed in (0, 1)]
    results = {}
    for workers in (1, 2):                                           # separate caches: nothing is read back
        monkeypatch.setenv("RECRL_CACHE_DIR", str(tmp_path / f"workers{workers}"))
        results[workers] = parallel.map_jobs(pipeline.compare_methods, jobs, workers)
    for one, two in zip(results[1], results[2]):
        assert list(one) == list(pipeline.METHODS)
        for method in pipeline.METHODS:
            pd.testing.assert_frame_equal(one[method].episodes, two[method].episodes)
            pd.testing.assert_frame_equal(one[method].evaluations, two[method].evaluations)
    assert not results[1][0]["A2C from scratch"].episodes.equals(results[1][1]["A2C from scratch"].episodes)
    assert 1 <= parallel.default_workers() <= 4


def test_paired_sample_size_is_the_paired_z_test_formula():
    from statistics import NormalDist

    new = np.array([[1, 1], [0, 1], [1, 0], [1, 1], [0, 0]], dtype=float)
    base = np.array([[0, 1], [0, 0], [1, 0], [1, 0], [0, 0]], dtype=float)
    d = new.mean(1) - base.mean(1)                                     # (0.5, 0.5, 0, 0.5, 0)
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    assert intervals.paired_sample_size(d) == pytest.approx((z * d.std(ddof=1) / d.mean()) ** 2)
    assert intervals.paired_sample_size(np.zeros(5)) == float("inf")
    assert intervals.paired_sample_size(2 * d) == pytest.approx(intervals.paired_sample_size(d))   # scale-free
    with pytest.raises(ValueError, match="1-D"):
        intervals.paired_sample_size(np.ones((2, 2)))
