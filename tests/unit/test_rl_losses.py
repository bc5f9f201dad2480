"""SQN, SAC, SNQN and SA2C losses on 3-item examples computed by hand (spec-base)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from recrl_core.rl import double_q, sa2c, sqn

E = math.e
CE_1_0_0 = math.log(E + 2) - 1      # -log softmax([1, 0, 0])[0] = 0.5514447
CE_0_0_0 = math.log(3)              # -log softmax([0, 0, 0])[k] = 1.0986123


def sqn_batch(requires_grad=False):
    """Two rows, three items; row 1 is terminal."""
    return dict(
        logits=torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=requires_grad),
        q=torch.tensor([[0.5, 0.0, 1.0], [0.0, 2.0, -1.0]], requires_grad=requires_grad),
        action=torch.tensor([0, 2]),
        reward=torch.tensor([1.0, 0.2]),
        done=torch.tensor([0.0, 1.0]),
        q_next_main=torch.tensor([[1.0, 3.0, 2.0], [0.5, 0.1, 0.2]], requires_grad=requires_grad),
        q_next_target=torch.tensor([[4.0, 0.5, 1.0], [0.3, 2.0, 0.6]], requires_grad=requires_grad),
        gamma=0.5)


# y = [1.0 + 0.5 * Q_tgt[0, argmax main = 1] = 1.25, 0.2 (terminal)]; Q(s, a) = [0.5, -1.0]
LQ_ROWS = [0.5 * (1.25 - 0.5) ** 2, 0.5 * (0.2 + 1.0) ** 2]     # [0.28125, 0.72]
LS_ROWS = [CE_1_0_0, CE_0_0_0]


def test_supervised_loss_is_per_row_cross_entropy():
    b = sqn_batch()
    torch.testing.assert_close(sqn.supervised_loss(b["logits"], b["action"]), torch.tensor(LS_ROWS))


def test_q_loss_has_the_half_factor():
    loss = sqn.q_loss(torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([1]), torch.tensor([5.0]))
    torch.testing.assert_close(loss, torch.tensor([0.5 * 3.0 ** 2]))     # 4.5, not 9


def test_sqn_loss_by_hand():
    out = sqn.sqn_loss(**sqn_batch())
    assert out["supervised"].item() == pytest.approx(np.mean(LS_ROWS))          # 0.8250285
    assert out["q"].item() == pytest.approx(np.mean(LQ_ROWS))                   # 0.500625
    assert out["loss"].item() == pytest.approx(np.mean(LS_ROWS) + np.mean(LQ_ROWS))


def test_the_target_carries_no_gradient():
    b = sqn_batch(requires_grad=True)
    sqn.sqn_loss(**b)["loss"].backward()
    assert b["q_next_main"].grad is None and b["q_next_target"].grad is None
    # d/dQ(s,a) of mean 0.5 (y - Q)^2 = -(y - Q) / B
    expected = torch.tensor([[-(1.25 - 0.5) / 2, 0.0, 0.0], [0.0, 0.0, -(0.2 + 1.0) / 2]])
    torch.testing.assert_close(b["q"].grad, expected)


def test_sac_warmup_switch_and_q_weight():
    during = sqn.sac_loss(**sqn_batch(), warm=True)
    after = sqn.sac_loss(**sqn_batch(), warm=False)
    assert during["loss"].item() == pytest.approx(sqn.sqn_loss(**sqn_batch())["loss"].item())
    # weights sg(Q(s, a)) = [0.5, -1.0]
    weighted = np.mean([0.5 * CE_1_0_0, -1.0 * CE_0_0_0])
    assert after["loss"].item() == pytest.approx(weighted + np.mean(LQ_ROWS))


def test_sac_weight_carries_no_gradient_to_q():
    b = sqn_batch(requires_grad=True)
    sqn.sac_loss(**b, warm=False)["loss"].backward()
    # only L_q reaches the Q head; the weight would add L_s / B at Q(s, a)
    expected = torch.tensor([[-(1.25 - 0.5) / 2, 0.0, 0.0], [0.0, 0.0, -(0.2 + 1.0) / 2]])
    torch.testing.assert_close(b["q"].grad, expected)


def sa2c_batch(requires_grad=False):
    """One terminal row, three items, negatives 1 and 2; Q(s_t) = [2, 0.5, -1]."""
    q = torch.tensor([[2.0, 0.5, -1.0]], requires_grad=requires_grad)
    return dict(
        logits=torch.tensor([[1.0, 0.0, 0.0]], requires_grad=requires_grad), q=q,
        action=torch.tensor([0]), reward=torch.tensor([1.0]), done=torch.tensor([1.0]),
        neg_actions=torch.tensor([[1, 2]]),
        q_next_main=torch.tensor([[1.0, 3.0, 2.0]]), q_next_target=torch.tensor([[4.0, 0.5, 1.0]]),
        q_curr_main=q.detach().clone(), q_curr_target=torch.tensor([[0.4, 3.0, 0.8]]),
        gamma=0.5, weight_q=2.0)


# Positive: terminal, y = 1.0; L_q+ = 0.5 (1 - 2)^2 = 0.5.
# Negatives: same state, r = 0, NO done mask: a* = argmax Q_main(s_t) = 0, Q_tgt(s_t, 0) = 0.4,
# y- = 0.5 * 0.4 = 0.2; sum_j L_q- = 0.5 (0.2 - 0.5)^2 + 0.5 (0.2 + 1)^2 = 0.045 + 0.72.
LQ_POS, LQ_NEG = 0.5, 0.765


def test_snqn_negatives_bootstrap_from_the_current_state_without_done_mask():
    b = sa2c_batch()
    lneg = sa2c.negative_q_loss(b["q"], b["neg_actions"], b["q_curr_main"], b["q_curr_target"], 0.5)
    torch.testing.assert_close(lneg, torch.tensor([LQ_NEG]))   # with a done mask: 0.125 + 0.5
    out = sa2c.snqn_loss(**b)
    assert out["q"].item() == pytest.approx(LQ_POS)
    assert out["q_neg"].item() == pytest.approx(LQ_NEG)
    assert out["loss"].item() == pytest.approx(2.0 * (LQ_POS + LQ_NEG) + CE_1_0_0)


def test_sa2c_advantage_by_hand_with_clipping():
    q = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 0.0], [40.0, 1.0, 1.0], [1.0, 0.0, 4.0]],
                     requires_grad=True)
    action = torch.tensor([0, 0, 0, 0])
    negs = torch.tensor([[1, 2], [1, 2], [1, 2], [1, 1]])
    # Q(s,a) - mean(Q(s,a), Q(s,negs)): 2 - 0.5, 0 - 1, 40 - 14, 1 - 1/3
    adv = sa2c.sa2c_advantage(q, action, negs, clip=0.0)
    torch.testing.assert_close(adv, torch.tensor([1.5, 0.0, 10.0, 2.0 / 3.0]))
    assert not adv.requires_grad
    torch.testing.assert_close(sa2c.sa2c_advantage(q, action, negs, clip=-5.0),
                               torch.tensor([1.5, -1.0, 10.0, 2.0 / 3.0]))


def test_propensity_weight_by_hand():
    logits = torch.log(torch.tensor([[2.0, 1.0, 1.0], [1.0, 1.0, 1.0], [18.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    action = torch.tensor([0, 1, 1, 2])
    item_prob = torch.tensor([0.04, 0.9, 0.06])
    # pi = [0.5, 1/3, 0.05, 1/3]; pi / beta = [12.5, 0.370, 0.0556, 5.556] -> clip to [0.1, 10]
    ratio = torch.tensor([10.0, (1 / 3) / 0.9, 0.1, (1 / 3) / 0.06])
    torch.testing.assert_close(sa2c.propensity_weight(logits, action, item_prob, 0.0), torch.ones(4))
    torch.testing.assert_close(sa2c.propensity_weight(logits, action, item_prob, 1.0), ratio)
    torch.testing.assert_close(sa2c.propensity_weight(logits, action, item_prob, 0.5), ratio.sqrt())
    torch.testing.assert_close(sa2c.propensity_weight(logits, action, None, 0.0), torch.ones(4))
    with pytest.raises(ValueError, match="item_prob"):
        sa2c.propensity_weight(logits, action, None, 1.0)


def test_sa2c_loss_phase_1_and_phase_2_by_hand():
    item_prob = torch.tensor([0.25, 0.25, 0.5])
    w = (E / (E + 2)) / 0.25                         # pi(a|s) / beta(a) = 2.3044677
    one = sa2c.sa2c_loss(**sa2c_batch(), item_prob=item_prob, clip=0.0, smooth=1.0, phase=1)
    two = sa2c.sa2c_loss(**sa2c_batch(), item_prob=item_prob, clip=0.0, smooth=1.0, phase=2)
    assert one["loss"].item() == pytest.approx(LQ_POS + LQ_NEG + CE_1_0_0)            # no w_q in phase 1
    assert two["loss"].item() == pytest.approx(2.0 * (LQ_POS + LQ_NEG) + 1.5 * w * CE_1_0_0)
    assert two["advantage_mean"].item() == pytest.approx(1.5)
    assert two["propensity_mean"].item() == pytest.approx(w)
    with pytest.raises(ValueError, match="phase"):
        sa2c.sa2c_loss(**sa2c_batch(), item_prob=item_prob, clip=0.0, smooth=1.0, phase=3)


def test_sa2c_phase_2_weights_carry_no_gradient():
    b = sa2c_batch(requires_grad=True)
    w = (E / (E + 2)) / 0.25
    sa2c.sa2c_loss(**b, item_prob=torch.tensor([0.25, 0.25, 0.5]), clip=0.0, smooth=1.0,
                   phase=2)["loss"].backward()
    softmax = torch.tensor([E, 1.0, 1.0]) / (E + 2)
    # logits: A * w * (softmax - onehot); Q: w_q * -(y - Q) at a (y = 1) and at each negative (y- = 0.2)
    torch.testing.assert_close(b["logits"].grad, (1.5 * w * (softmax - torch.tensor([1.0, 0, 0])))[None])
    torch.testing.assert_close(b["q"].grad, torch.tensor([[2.0, 0.6, -2.4]]))


def test_double_q_pair_roles_follow_the_rng():
    pair = double_q.DoubleQPair(nn.Linear(2, 3), nn.Linear(2, 3), lr=0.01)
    first = [pair.roles(np.random.default_rng(7)) for _ in range(3)]
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    draws = [pair.roles(rng_a) for _ in range(50)]
    assert draws == [double_q.pick_roles(rng_b) for _ in range(50)]
    assert len(set(first)) == 1
    assert set(draws) == {(0, 1), (1, 0)}
    assert len(pair.optimizers) == 2 and pair.optimizers_phase2 == []


def test_double_q_pair_steps_only_the_main_network():
    torch.manual_seed(0)
    pair = double_q.DoubleQPair(nn.Linear(2, 3), nn.Linear(2, 3), lr=0.1, lr_2=0.01)
    before = [[p.detach().clone() for p in net.parameters()] for net in pair.networks]
    x = torch.ones(4, 2)
    with torch.no_grad():
        target_out = pair.networks[0](x)
    loss = ((pair.networks[1](x) - target_out) ** 2).mean() + 1.0
    pair.step(1, loss, phase=2)
    assert all(torch.equal(p, q) for p, q in zip(pair.networks[0].parameters(), before[0]))
    assert not all(torch.equal(p, q) for p, q in zip(pair.networks[1].parameters(), before[1]))
