"""A2C: the loss against hand arithmetic, stop-gradients, masking, the network, and online learning."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.envs import interest, policies, session
from recrl_core.rl import actor_critic
from recrl_core.train import online

M = actor_critic.MASKED_LOGIT


def _hand_batch():
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, M]], requires_grad=True)
    value = torch.tensor([0.5, 0.2], requires_grad=True)
    next_value = torch.tensor([1.0, 5.0], requires_grad=True)
    action, reward, done = torch.tensor([0, 1]), torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    return logits, value, next_value, action, reward, done


def test_a2c_loss_by_hand():
    logits, value, next_value, action, reward, done = _hand_batch()
    out = actor_critic.a2c_loss(logits, value, next_value, action, reward, done, gamma=0.9, entropy_coef=0.01)
    # row 0: delta = 1 + 0.9 * 1.0 - 0.5 = 1.4;  pi = (e, 1, 1) / (e + 2)
    # row 1: the user left, so V(s') = 5 is ignored: delta = 0 - 0.2 = -0.2;  pi = (1/2, 1/2, 0)
    z = math.e + 2
    pi0 = np.array([math.e / z, 1 / z, 1 / z])
    h0, h1 = -(pi0 * np.log(pi0)).sum(), math.log(2)
    policy0 = -(1 - math.log(z)) * 1.4 - 0.01 * h0
    policy1 = math.log(2) * (-0.2) - 0.01 * h1                       # -log(1/2) * delta
    expected = (policy0 + 1.4 ** 2 + policy1 + 0.2 ** 2) / 2
    assert out["loss"].item() == pytest.approx(expected, rel=1e-6)
    assert out["entropy"].item() == pytest.approx((h0 + h1) / 2, rel=1e-6)
    assert out["td_error"].item() == pytest.approx((1.4 + 0.2) / 2, rel=1e-6)
    assert out["value"].item() == pytest.approx((1.96 + 0.04) / 2, rel=1e-6)


def test_stop_gradients():
    logits, value, next_value, action, reward, done = _hand_batch()
    out = actor_critic.a2c_loss(logits, value, next_value, action, reward, done, 0.9, 0.01)
    out["loss"].backward()
    # only delta^2 reaches V(s_t): d/dV mean(delta^2) = -2 delta / B
    np.testing.assert_allclose(value.grad.numpy(), [-1.4, 0.2], rtol=1e-6)
    assert next_value.grad is None or (next_value.grad == 0).all()      # the bootstrap is a constant
    assert logits.grad[1, 2] == 0                                         # a masked item gets no gradient
    # row 0's policy gradient: (pi - onehot(a)) * delta / B, plus the entropy term
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_td_error_by_hand():
    delta = actor_critic.td_error(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([2.0, 2.0]),
                                  torch.tensor([3.0, 3.0]), gamma=0.5)
    assert delta.tolist() == [1.0 + 1.5 - 2.0, 1.0 - 2.0]


def test_entropy_of_masked_logits_is_finite():
    h = actor_critic.entropy(torch.tensor([[0.0, 0.0, 0.0, M], [M, 3.0, M, M]]))
    np.testing.assert_allclose(h.numpy(), [math.log(3), 0.0], atol=1e-6)


def test_sampling_never_picks_masked_items():
    logits = torch.zeros(500, 6).masked_fill(torch.tensor([True, False, True, True, False, True]), M)
    drawn = online.sample_actions(logits, np.random.default_rng(0))
    assert set(drawn.tolist()) == {1, 4}


@pytest.mark.parametrize("encoder", actor_critic.ENCODERS)
def test_network_shapes_padding_and_empty_history(encoder):
    torch.manual_seed(0)
    net = actor_critic.ActorCritic(7, 8, encoder, item_features=np.eye(7)[:, :3])
    items = torch.tensor([[1, 2, 7, 7], [1, 2, 5, 7], [7, 7, 7, 7]])
    feedback = torch.tensor([[1, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    lengths = torch.tensor([2, 2, 0])
    seen = torch.zeros(3, 7, dtype=torch.bool)
    seen[0, 3] = True
    logits, values = net(items, feedback, lengths, seen)
    assert logits.shape == (3, 7) and values.shape == (3,)
    assert logits[0, 3] == M
    torch.testing.assert_close(logits[1, :3], logits[0, :3])            # what lies past the length is ignored
    torch.testing.assert_close(net.state(items[2:], feedback[2:], lengths[2:]), torch.zeros(1, 8))
    with pytest.raises(ValueError, match="mean"):
        actor_critic.ActorCritic(7, 8, "lstm")


def _tiny():
    cfg = dataclasses.replace(interest.InterestEnvConfig.for_mode(Mode.SMOKE), num_users=200, num_items=30,
                              num_topics=5)
    return cfg, interest.InterestVecEnv(cfg)


def _train(updates: int, seed: int = 0):
    cfg, env = _tiny()
    a2c_cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=updates, num_envs=32)
    torch.manual_seed(seed)
    net = actor_critic.ActorCritic(cfg.num_items, a2c_cfg.hidden_size, item_features=env.world.item_genres)
    return env, net, online.fit_a2c(env, net, a2c_cfg, np.random.default_rng(seed), progress=False)


def test_gradient_reaches_the_chosen_items():
    # regression: seen must be copied before step() marks the chosen items, or masked_fill's backward
    # silently zeroes the gradient of exactly the actions taken
    cfg, env = _tiny()
    a2c_cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), num_envs=8)
    torch.manual_seed(0)
    net = actor_critic.ActorCritic(cfg.num_items, 16)
    obs, _ = env.reset(session.episode_seeds(0, 8))
    optimizer = torch.optim.Adam(net.parameters(), lr=a2c_cfg.lr)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    action = online.sample_actions(net(*online.as_tensors(obs))[0], rng)
    rng.bit_generator.state = state
    online.a2c_step(net, optimizer, obs, env, a2c_cfg, rng)
    reward = env.observation()["feedback"][np.arange(8), 0]
    grad = net.item_bias.grad[torch.as_tensor(action)]
    assert (grad[torch.as_tensor(reward == 1)] < 0).all()                # clicked: pushed up
    assert (grad != 0).all()


def test_fit_a2c_is_deterministic():
    _, _, first = _train(20)
    _, _, again = _train(20)
    assert first.episodes.equals(again.episodes) and first.losses.equals(again.losses)
    assert np.isfinite(first.losses.drop(columns="update").to_numpy()).all()


def test_a2c_beats_random_after_a_few_hundred_updates():
    env, net, result = _train(400)
    seeds = session.episode_seeds(99, 400)
    table = policies.compare(env, {"random": policies.RandomPolicy(), "a2c": online.A2CPolicy(net)}, seeds, 0)
    gap = table.loc["a2c", "return"] - table.loc["random", "return"]
    se = np.hypot(table.loc["a2c", "return_se"], table.loc["random", "return_se"])
    assert gap > 3 * se, table
    early, late = result.episodes["return"].iloc[:200].mean(), result.episodes["return"].iloc[-200:].mean()
    assert late > early
