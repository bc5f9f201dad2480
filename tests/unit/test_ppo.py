"""Token-level PPO pieces by hand: rewards, clipped losses, KL controllers, config modes."""

import dataclasses
import math

import pytest
import torch

from recrl_core.config import Mode
from recrl_core.rl import ppo

PAD = 2          # SmolLM2: <|im_end|> is both EOS and pad


def test_score_lands_on_last_valid_token_even_if_it_is_the_pad_id():
    # row 0: 3 tokens, the 3rd is a real EOS whose id equals PAD, then padding
    # row 1: 4 tokens, no padding
    tokens = torch.tensor([[5, 7, PAD, PAD], [9, 4, 8, 3]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    assert int((tokens[0] == PAD).int().argmax()) - 1 == 1      # the pad-id trap would pick token 1
    logprobs = torch.tensor([[-1.0, -2.0, -0.5, -9.0], [-1.0, -1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5, -1.0], [-2.0, -1.0, -1.0, -0.5]])
    score = torch.tensor([0.8, -0.3])
    rewards, kl = ppo.per_token_rewards(score, logprobs, ref, mask, kl_coef=0.05, estimator="k1")
    # k1 = lp - ref: row 0 [0.5, -1, 0, (pad)], row 1 [1, 0, 0, -0.5]
    torch.testing.assert_close(kl, torch.tensor([[0.5, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, -0.5]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.025, 0.05, 0.8, 0.0],
                                                      [-0.05, 0.0, 0.0, 0.025 - 0.3]]))


def test_k3_rewards_use_k3():
    lp, ref, mask = torch.tensor([[-1.0, -2.0]]), torch.tensor([[-2.0, -2.0]]), torch.ones(1, 2)
    rewards, kl = ppo.per_token_rewards(torch.tensor([1.0]), lp, ref, mask, 0.1, "k3")
    k3 = math.exp(-1.0) - 1.0 + 1.0                                    # r = -1
    torch.testing.assert_close(kl, torch.tensor([[k3, 0.0]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.1 * k3, 1.0]]))


# ratio, advantage -> per-token loss -min(rA, clip(r)A); eps = 0.2
CASES = [(1.1, 1.0, -1.1, False),    # inside the range
         (1.5, 1.0, -1.2, True),     # above 1 + eps, A > 0: clipped
         (0.5, -2.0, 1.6, True),     # below 1 - eps, A < 0: clipped (0.8 * -2)
         (0.5, 1.0, -0.5, False),    # below 1 - eps, A > 0: unclipped term is smaller
         (1.5, -1.0, 1.5, False)]    # above 1 + eps, A < 0: unclipped term is smaller


def _policy_inputs():
    ratio = torch.tensor([[c[0] for c in CASES] + [5.0]])            # last token: padding
    adv = torch.tensor([[c[1] for c in CASES] + [10.0]])
    mask = torch.tensor([[1.0] * len(CASES) + [0.0]])
    old = torch.full_like(ratio, -1.0)
    logprobs = (old + ratio.log()).requires_grad_(True)
    return logprobs, old, adv, mask, ratio


def test_clipped_policy_loss_and_clipfrac_by_hand():
    logprobs, old, adv, mask, ratio = _policy_inputs()
    loss, stats = ppo.clipped_policy_loss(logprobs, old, adv, mask, clip_range=0.2)
    assert loss.item() == pytest.approx(sum(c[2] for c in CASES) / 5)   # 0.3 / 5 = 0.06
    assert float(stats["ppo/clipfrac"]) == pytest.approx(2 / 5)
    expected_kl = 0.5 * sum(math.log(c[0]) ** 2 for c in CASES) / 5
    assert float(stats["ppo/approx_kl"]) == pytest.approx(expected_kl)
    assert float(stats["losses/policy"]) == pytest.approx(0.06)


def test_clipped_tokens_get_no_gradient():
    logprobs, old, adv, mask, ratio = _policy_inputs()
    loss, _ = ppo.clipped_policy_loss(logprobs, old, adv, mask, clip_range=0.2)
    loss.backward()
    # d/dlogp of -r*A/5 = -r*A/5 where unclipped; 0 where clipped or padded
    expected = torch.tensor([[-1.1 / 5, 0.0, 0.0, -0.5 / 5, 1.5 / 5, 0.0]])
    torch.testing.assert_close(logprobs.grad, expected)


def test_value_loss_clipping_by_hand():
    old = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    values = torch.tensor([[1.1, 1.5, 0.5, 1.5, 7.0]], requires_grad=True)
    returns = torch.tensor([[2.0, 1.0, 0.0, 2.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    loss, stats = ppo.value_loss(values, old, returns, mask, clip_range=0.2)
    # clipped V = [1.1, 1.2, 0.8, 1.2]
    # unclipped err^2 = [0.81, 0.25, 0.25, 0.25]; clipped err^2 = [0.81, 0.04, 0.64, 0.64]
    # max = [0.81, 0.25, 0.64, 0.64] -> 0.5 * 2.34 / 4
    assert loss.item() == pytest.approx(0.5 * 2.34 / 4)
    assert float(stats["ppo/value_clipfrac"]) == pytest.approx(2 / 4)
    loss.backward()
    # gradient (V - R) / 4 where unclipped wins, 0 where the clipped error wins or padded
    torch.testing.assert_close(values.grad, torch.tensor([[-0.9 / 4, 0.5 / 4, 0.0, 0.0, 0.0]]))


def test_adaptive_kl_moves_by_the_proportional_amount():
    ctl = ppo.AdaptiveKL(init=0.1, target=6.0, horizon=10_000)
    ctl.update(current_kl=9.0, n_steps=32)             # error 0.5 clipped to 0.2
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 32 / 10_000))
    ctl = ppo.AdaptiveKL(init=0.1, target=6.0, horizon=10_000)
    ctl.update(current_kl=5.4, n_steps=32)             # error -0.1, inside the clip
    assert ctl.value == pytest.approx(0.1 * (1 - 0.1 * 32 / 10_000))
    assert ctl.value < 0.1


def test_fixed_kl_stays_put():
    ctl = ppo.FixedKL(0.05)
    ctl.update(current_kl=100.0, n_steps=32)
    assert ctl.value == 0.05


SEMANTICS = ("lr", "kl_coef", "kl_estimator", "gamma", "lam", "clip_range", "value_clip_range",
             "vf_coef", "temperature", "top_p", "max_new_tokens", "max_grad_norm", "adaptive_kl")


def test_for_mode_changes_only_size_fields_and_keeps_semantics():
    full = ppo.PPOConfig()
    assert ppo.PPOConfig.for_mode(Mode.FULL) == full
    for mode in (Mode.SMOKE, Mode.BOOK):
        cfg = ppo.PPOConfig.for_mode(mode)
        changed = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(full, f.name)}
        assert changed and changed <= set(ppo.PPOConfig.SIZE_FIELDS), (mode, changed)
        assert {n: getattr(cfg, n) for n in SEMANTICS} == {n: getattr(full, n) for n in SEMANTICS}
    assert not set(SEMANTICS) & set(ppo.PPOConfig.SIZE_FIELDS)


def test_config_defaults_frozen_and_estimator_checked():
    cfg = ppo.PPOConfig()
    assert (cfg.kl_coef, cfg.gamma, cfg.lam, cfg.clip_range, cfg.top_p) == (0.05, 1.0, 0.95, 0.2, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.kl_coef = 0.1
    with pytest.raises(ValueError, match="k1"):
        ppo.PPOConfig(kl_estimator="k2")
