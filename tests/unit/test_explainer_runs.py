"""Chapter 7's run bookkeeping: job configs, cache keys, pooled relative CTR and the power calculation by hand."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from recrl_core.config import Mode
from recrl_core.methods.shielded import click_model, explainer_runs, explanation_reward, explanation_task


def _task():
    return SimpleNamespace(xcfg=explanation_task.ExplainerConfig.for_mode(Mode.BOOK),
                           reward_cfg=explanation_reward.RewardConfig(), mode=Mode.BOOK, lm_name="smollm2-135m",
                           frame=list(range(10)))


def _job(variant="main", seed=0, updates=None):
    return explainer_runs.ExplainerJob(variant, seed, "book", "/data", updates)


def test_configs_apply_the_seed_the_budget_and_one_ablation():
    task = _task()
    ppo_cfg, lora_cfg, reward_cfg = explainer_runs.configs(task, _job("main", seed=2))
    assert (ppo_cfg.seed, ppo_cfg.updates, lora_cfg.r, reward_cfg) == (2, task.xcfg.ppo.updates, 16, task.reward_cfg)
    assert explainer_runs.configs(task, _job("beta=0", updates=4))[0].kl_coef == 0.0
    assert explainer_runs.configs(task, _job("beta=0", updates=4))[0].updates == 4
    assert explainer_runs.configs(task, _job("lora r=4"))[1].r == 4
    assert explainer_runs.configs(task, _job("no factuality"))[2].w_factuality == 0.0
    assert explainer_runs.configs(task, _job("untrained"))[:2] == explainer_runs.configs(task, _job("main"))[:2]
    with pytest.raises(ValueError, match="unknown ablation"):
        explainer_runs.configs(task, _job("beta=1"))


def test_job_keys_separate_what_changes_the_result():
    task = _task()
    keys = {explainer_runs.job_key(task, j) for j in [_job(), _job(seed=1), _job(updates=4), _job("beta=0")]}
    assert len(keys) == 4
    assert explainer_runs.job_key(task, _job()) == explainer_runs.job_key(task, _job())
    other = dataclasses.replace(task.xcfg, eval_users=64)
    assert explainer_runs.job_key(SimpleNamespace(**{**vars(task), "xcfg": other}), _job()) != explainer_runs.job_key(task, _job())


def test_pooled_relative_ctr_keeps_each_users_draws_together():
    rng = np.random.default_rng(0)
    base = {"clicks": rng.random((50, 8)) < 0.3}
    runs = [{"clicks": rng.random((50, 8)) < p} for p in (0.35, 0.4)]
    pooled = explainer_runs.pooled_relative_ctr(runs, base, seed=3)
    by_hand = click_model.relative_ctr(np.hstack([runs[0]["clicks"], runs[1]["clicks"]]),
                                       np.hstack([base["clicks"], base["clicks"]]), seed=3)
    assert pooled == by_hand
    mean_ctr = np.mean([r["clicks"].mean() for r in runs])
    assert pooled["ratio"] == pytest.approx(mean_ctr / base["clicks"].mean())
