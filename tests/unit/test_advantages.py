"""GAE and masked whitening against hand arithmetic and a naive per-row loop (spec-shielded-ppo)."""

import pytest
import torch

from recrl_core.rl import advantages


def _naive_gae(rewards, values, lengths, gamma, lam):
    """Per-row Python reverse loop over the valid tokens only."""
    B, T = rewards.shape
    adv = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        L, next_a = int(lengths[b]), 0.0
        for t in reversed(range(L)):
            next_v = float(values[b, t + 1]) if t + 1 < L else 0.0
            next_a = float(rewards[b, t]) + gamma * next_v - float(values[b, t]) + gamma * lam * next_a
            adv[b, t] = next_a
    return adv


def _random_batch(seed=0, B=5, T=7):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 1, 4, 6, 3])
    mask = (torch.arange(T)[None] < lengths[:, None]).double()
    # padded positions hold garbage: the function must ignore it
    rewards = torch.randn(B, T, generator=g, dtype=torch.float64)
    values = torch.randn(B, T, generator=g, dtype=torch.float64)
    return rewards, values, mask, lengths


def test_three_tokens_by_hand_with_padding():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 5.0]])       # 4th position is padding
    values = torch.tensor([[0.5, 0.6, 0.7, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = advantages.gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # d2 = 1 + 0 - 0.7 = 0.3 (V after the last token = 0); A2 = 0.3
    # d1 = 0 + 0.7 - 0.6 = 0.1;                               A1 = 0.1 + 0.5 * 0.3 = 0.25
    # d0 = 0 + 0.6 - 0.5 = 0.1;                               A0 = 0.1 + 0.5 * 0.25 = 0.225
    torch.testing.assert_close(adv, torch.tensor([[0.225, 0.25, 0.3, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[0.725, 0.85, 1.0, 0.0]]))


def test_matches_naive_loop_with_variable_lengths():
    rewards, values, mask, lengths = _random_batch()
    adv, ret = advantages.gae(rewards, values, mask, gamma=0.9, lam=0.8)
    torch.testing.assert_close(adv, _naive_gae(rewards, values, lengths, 0.9, 0.8))
    torch.testing.assert_close(ret, (adv + values) * mask)
    assert (adv[mask == 0] == 0).all()


def test_gamma_one_lambda_one_is_reward_to_go_minus_value():
    rewards, values, mask, _ = _random_batch(seed=1)
    adv, ret = advantages.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    masked_r = rewards * mask
    to_go = masked_r.flip(1).cumsum(1).flip(1)          # sum_{k >= t} r_k over valid tokens
    torch.testing.assert_close(adv, (to_go - values) * mask)
    torch.testing.assert_close(ret, to_go * mask)


def test_outputs_carry_no_gradient():
    values = torch.tensor([[0.1, 0.2]], requires_grad=True)
    adv, ret = advantages.gae(torch.tensor([[0.0, 1.0]]), values, torch.ones(1, 2), 1.0, 0.95)
    assert not adv.requires_grad and not ret.requires_grad


def test_whiten_valid_positions_mean_zero_std_one_padding_zero():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 6.0, -50.0, -50.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    w = advantages.whiten(x, mask)
    valid = w[mask.bool()]
    # valid values 1, 2, 3, 4, 6: mean 3.2, unbiased var = (4.84+1.44+0.04+0.64+7.84)/4 = 3.7
    torch.testing.assert_close(valid, (torch.tensor([1.0, 2.0, 3.0, 4.0, 6.0]) - 3.2) / 3.7 ** 0.5)
    assert float(valid.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(valid.std()) == pytest.approx(1.0, abs=1e-6)
    assert (w[mask == 0] == 0).all()


def test_whiten_without_shift_keeps_the_mean():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    w = advantages.whiten(x, mask, shift_mean=False)
    torch.testing.assert_close(w, torch.tensor([[1.0, 2.0, 3.0, 0.0]]))   # mean 2, std 1 already


def test_masked_mean_ignores_padding():
    assert float(advantages.masked_mean(torch.tensor([[1.0, 3.0, 99.0]]),
                                        torch.tensor([[1.0, 1.0, 0.0]]))) == 2.0
