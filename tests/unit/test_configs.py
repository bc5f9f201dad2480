"""The run-size switch: modes change only declared SIZE_FIELDS; the mode is read strictly."""

import dataclasses
import subprocess
import sys

import pytest

from recrl_core import config
from recrl_core.baselines import itemknn, mf
from recrl_core.config import Mode
from recrl_core.data import prepare, transitions
from recrl_core.envs import clicks, grounded, interest
from recrl_core.eval import offline
from recrl_core.llm import environment, explainer, item_tokens, le_pass, lea_task, rewards, trl_route
from recrl_core.rl import lea, ppo
from recrl_core.train import loops, online

CONFIGS = [prepare.DataConfig, offline.EvalConfig, transitions.TransitionConfig,
           itemknn.ItemKNNConfig, mf.ALSConfig, loops.SupervisedConfig, loops.SeedsConfig,
           ppo.PPOConfig, trl_route.TRLConfig, interest.InterestEnvConfig, grounded.GroundedConfig,
           online.A2CConfig, clicks.ClickConfig, rewards.RewardConfig, explainer.ExplainerConfig,
           lea.LEAConfig, item_tokens.ItemTokenConfig, environment.LEConfig, le_pass.PassConfig,
           lea_task.GridConfig]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_for_mode_changes_only_size_fields(cls):
    full = cls()
    assert cls.for_mode(Mode.FULL) == full
    for mode in (Mode.SMOKE, Mode.BOOK):
        changed = {f.name for f in dataclasses.fields(cls)
                   if getattr(cls.for_mode(mode), f.name) != getattr(full, f.name)}
        assert changed <= set(cls.SIZE_FIELDS), f"{cls.__name__} {mode}: {changed - set(cls.SIZE_FIELDS)}"


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_configs_are_frozen(cls):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(cls(), dataclasses.fields(cls)[0].name, None)


def test_current_mode(monkeypatch):
    monkeypatch.delenv("RECRL_MODE", raising=False)
    assert config.current_mode() is Mode.BOOK
    monkeypatch.setenv("RECRL_MODE", " Smoke ")
    assert config.current_mode() is Mode.SMOKE
    monkeypatch.setenv("RECRL_MODE", "fast")
    with pytest.raises(ValueError, match="smoke, book, full"):
        config.current_mode()


def test_data_dir_resolves_relative_values_against_the_project_root(monkeypatch, tmp_path):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "book" / "ch").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "book" / "ch")               # notebooks run in their own folder
    monkeypatch.setenv("RECRL_DATA_DIR", "mydata")
    assert config.data_dir() == tmp_path / "mydata"
    monkeypatch.delenv("RECRL_DATA_DIR")
    assert config.data_dir() == tmp_path / "data"
    monkeypatch.delenv("RECRL_CACHE_DIR", raising=False)
    assert config.cache_dir() == tmp_path / ".cache" / "recrl"


def test_importing_the_package_is_light():
    code = ("import sys, recrl_core, recrl_core.config, recrl_core.data.interactions, "
            "recrl_core.eval.metrics; heavy = {'torch', 'transformers', 'peft', 'matplotlib'} & set(sys.modules);"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nothing_outside_llm_imports_the_llm_stack():
    code = ("import sys, recrl_core.data.prepare, recrl_core.eval.offline, recrl_core.baselines.mf, "
            "recrl_core.plotting, recrl_core.results, recrl_core.envs.clicks, recrl_core.train.shield, "
            "recrl_core.rl.lea; print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
