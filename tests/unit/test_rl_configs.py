"""SQN/SA2C configs: modes change only SIZE_FIELDS; the method's semantics are identical."""

import dataclasses

import pytest

from recrl_core.config import Mode
from recrl_core.rl import sa2c, sqn

CONFIGS = [sqn.SQNConfig, sa2c.SA2CConfig]
SEMANTICS = {
    sqn.SQNConfig: ("gamma", "reward_click", "reward_buy", "lr"),
    sa2c.SA2CConfig: ("gamma", "reward_click", "reward_buy", "reward_negative", "lr", "lr_2",
                      "weight_q", "smooth", "clip"),
}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_for_mode_changes_only_size_fields(cls):
    full = cls()
    assert cls.for_mode(Mode.FULL) == full
    assert set(cls.SIZE_FIELDS) <= {f.name for f in dataclasses.fields(cls)}
    for mode in (Mode.SMOKE, Mode.BOOK):
        changed = {f.name for f in dataclasses.fields(cls)
                   if getattr(cls.for_mode(mode), f.name) != getattr(full, f.name)}
        assert changed, f"{cls.__name__} {mode}: nothing shrinks"
        assert changed <= set(cls.SIZE_FIELDS), f"{cls.__name__} {mode}: {changed - set(cls.SIZE_FIELDS)}"


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_semantics_equal_in_every_mode(cls):
    values = [{name: getattr(cls.for_mode(mode), name) for name in SEMANTICS[cls]} for mode in Mode]
    assert values[0] == values[1] == values[2]
    assert not set(SEMANTICS[cls]) & set(cls.SIZE_FIELDS)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_warmup_exists_in_every_mode_and_is_shorter_than_full(cls):
    # the two-phase structure is semantics: only its length scales with the run
    full = cls().warmup_steps
    assert all(0 < cls.for_mode(mode).warmup_steps <= full for mode in Mode)


def test_sa2c_keeps_ten_negatives_in_every_mode():
    assert {sa2c.SA2CConfig.for_mode(mode).num_negatives for mode in Mode} == {10}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_configs_are_frozen(cls):
    with pytest.raises(dataclasses.FrozenInstanceError):
        cls().gamma = 0.9
