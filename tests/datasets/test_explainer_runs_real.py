"""Chapter 7's runs end to end in smoke mode on the real data: frozen-trunk PPO, evaluation, the cache."""

import numpy as np
import pytest

from recrl_core.caching import TensorCache
from recrl_core.config import Mode
from recrl_core.llm import trunk_rollout
from recrl_core.methods.shielded import click_model, explainer_runs

pytestmark = pytest.mark.data


def test_a_run_trains_on_the_trunk_evaluates_and_is_cached(real_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("RECRL_CACHE_DIR", str(tmp_path))
    task = explainer_runs.build_task(Mode.SMOKE, real_data_dir)
    job = dict(mode="smoke", data_dir=str(real_data_dir))
    base = explainer_runs.run(explainer_runs.ExplainerJob("untrained", 0, **job), task)
    main = explainer_runs.run(explainer_runs.ExplainerJob("main", 0, **job), task)
    assert task.trunks is not None and task.trunks.split == 1 and len(task.trunks) > 0
    assert task.trunks.misses == 0                          # every prompt's trunk was filled up front, then stored
    stored = list((tmp_path / "prompt_trunks").glob("*.safetensors"))       # one store, loaded by later processes
    loaded = trunk_rollout.PromptTrunks(task.trunks.tokenizer, task.trunks.split)
    assert len(stored) == 1 and loaded.load(TensorCache("prompt_trunks"), stored[0].stem)
    assert len(loaded) == len(task.trunks) == len(task.train_rows) + len(task.eval_rows)
    assert base["history"] == [] and len(main["history"]) == task.xcfg.ppo.updates
    assert main["clicks"].shape == base["clicks"].shape == (len(task.eval_rows), task.reader.cfg.draws)
    assert abs(base["kl_token"]) < 1e-5                     # the untrained explainer is the reference
    again = explainer_runs.run(explainer_runs.ExplainerJob("main", 0, **job), task)
    assert again["cached"] and not main["cached"]
    np.testing.assert_array_equal(again["clicks"], main["clicks"])
    assert again["texts"] == main["texts"] and again["terms"] == main["terms"]
    assert click_model.relative_ctr(main["clicks"], base["clicks"])["users"] == len(task.eval_rows)

