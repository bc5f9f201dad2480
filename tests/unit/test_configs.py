"""The run-size switch: modes change only declared SIZE_FIELDS; the mode is read strictly."""

import dataclasses
import importlib
import pkgutil
import subprocess
import sys

import pytest

import recrl_core
from recrl_core import config
from recrl_core.config import Mode


def _all_configs() -> list[type]:
    """Every frozen dataclass with ``for_mode`` defined anywhere in recrl_core (none can be forgotten)."""
    found = {}
    for info in pkgutil.walk_packages(recrl_core.__path__, "recrl_core."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and "for_mode" in vars(obj)
                    and obj.__module__ == info.name):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


CONFIGS = _all_configs()


def _flat(cfg, prefix: str = "") -> dict:
    """Field values of ``cfg``, nested config dataclasses flattened to dotted names (``ppo.lr``)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and hasattr(type(value), "SIZE_FIELDS"):
            out |= _flat(value, f"{prefix}{f.name}.")
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def _allowed(cls, prefix: str = "") -> set[str]:
    """``cls.SIZE_FIELDS`` plus the SIZE_FIELDS of its nested configs, dotted."""
    out = {prefix + name for name in cls.SIZE_FIELDS}
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and hasattr(type(default), "SIZE_FIELDS"):
            out |= _allowed(type(default), f"{prefix}{f.name}.")
    return out


def test_every_config_is_found():
    names = {c.__name__ for c in CONFIGS}
    assert {"DataConfig", "SQNConfig", "PPOConfig", "ExplainerConfig", "LEAConfig", "LEConfig", "PassConfig",
            "ClickConfig", "RewardConfig", "A2CConfig"} <= names, sorted(names)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_for_mode_changes_only_size_fields(cls):
    """Smoke and book differ from full only in SIZE_FIELDS, nested configs included (``ppo.lr`` must be declared)."""
    full = cls()
    assert cls.for_mode(Mode.FULL) == full
    for mode in (Mode.SMOKE, Mode.BOOK):
        small, big = _flat(cls.for_mode(mode)), _flat(full)
        changed = {name for name in big if small[name] != big[name]}
        assert changed <= _allowed(cls), f"{cls.__name__} {mode}: {changed - _allowed(cls)}"


def test_nested_size_fields_are_real_fields():
    for cls in CONFIGS:
        names = set(_flat(cls()))
        assert set(cls.SIZE_FIELDS) <= names, f"{cls.__name__}.SIZE_FIELDS names {set(cls.SIZE_FIELDS) - names}"


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
            "recrl_core.plotting, recrl_core.results, recrl_core.caching, recrl_core.notebook, "
            "recrl_core.methods.shielded.click_model, recrl_core.methods.shielded.shields, "
            "recrl_core.methods.lea.learner, recrl_core.methods.lea.fusion; print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
