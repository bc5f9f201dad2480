"""Gradient shields on a tiny random ranker: hard freeze, exact projection, drift metrics."""

import pytest
import torch

from recrl_core.methods.shielded import shields
from recrl_core.seqrec import heads, sasrec

N, H = 12, 8


def _ranker(seed=0):
    torch.manual_seed(seed)
    return heads.TwoHead(sasrec.SASRec(N, H, state_len=4, num_blocks=1, num_heads=1, dropout=0.0), N, 4).eval()


def _histories(users=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(0, N, (users, 4), generator=g)
    return items, torch.full((users,), 4)


def _explainer_loss(ranker, items, lengths, targets, detach):
    """A stand-in explainer reading [h_u ; w_i] (as the soft prompt does) and a loss on it."""
    from recrl_core.methods.shielded.explanation_task import ranker_context

    ctx = ranker_context(ranker, items, lengths, targets)
    ctx = ctx.detach() if detach else ctx
    head = torch.nn.Linear(2 * H, 1)
    torch.nn.init.constant_(head.weight, 0.3)
    return (head(ctx) ** 2).sum()


def test_hard_shield_no_gradient_and_bitwise_identical_weights():
    ranker = _ranker()
    before = shields.fingerprint(ranker)
    shields.hard_shield(ranker)
    probe = shields.GradientProbe(ranker)
    items, lengths = _histories()
    loss = _explainer_loss(ranker, items, lengths, torch.arange(5), detach=False)   # the freeze alone must block
    loss.backward()
    assert not any(p.requires_grad for p in ranker.parameters())
    assert probe.events == 0
    assert all(p.grad is None for p in ranker.parameters())
    assert shields.fingerprint(ranker) == before


def test_probe_sees_gradients_without_a_shield():
    """The hooks are live: with raw gradients they fire and the weights change."""
    ranker = _ranker()
    before = shields.fingerprint(ranker)
    probe = shields.GradientProbe(ranker)
    items, lengths = _histories()
    _explainer_loss(ranker, items, lengths, torch.arange(5), detach=False).backward()
    assert probe.events > 0
    torch.optim.SGD(ranker.parameters(), lr=0.1).step()
    assert shields.fingerprint(ranker) != before


def test_projection_shield_keeps_protected_scores_first_order_and_exactly():
    """Explainer gradient on the output item embeddings W, projected off the span of
    3 protected user states (3 < H): protected scores do not move, others do."""
    ranker = _ranker()
    for p in ranker.encoder.parameters():
        p.requires_grad_(False)
    items, lengths = _histories(users=6)
    with torch.no_grad():
        states = ranker.encoder(items, lengths)                           # (6, H)
    protected = states[:3]
    free = torch.randn(3, H, generator=torch.Generator().manual_seed(1))  # states outside the span
    W = ranker.supervised.linear.weight
    basis = shields.state_basis(protected)
    assert basis.shape == (H, 3)
    guard = shields.ProjectionShield(W, basis)
    _explainer_loss(ranker, items, lengths, torch.arange(6), detach=False).backward()
    g = W.grad.clone()
    torch.testing.assert_close(g @ protected.T, torch.zeros(N, 3), atol=1e-6, rtol=0)   # first order: J g = 0
    with torch.no_grad():
        s_before, f_before = ranker.supervised(protected), ranker.supervised(free)
        W -= 0.5 * g
        torch.testing.assert_close(ranker.supervised(protected), s_before, atol=1e-5, rtol=0)
        assert (ranker.supervised(free) - f_before).abs().max() > 1e-3
    guard.remove()


def test_full_rank_states_leave_no_room():
    """More protected states than dimensions: the projection is a freeze."""
    g = torch.Generator().manual_seed(0)
    states = torch.randn(20, H, generator=g)
    grad = torch.randn(N, H, generator=g)
    assert shields.state_basis(states).shape == (H, H)
    assert shields.project_out(grad, shields.state_basis(states)).abs().max() < 1e-5
    partial = shields.state_basis(states, energy=0.8)
    assert 0 < partial.shape[1] < H


def test_ranking_drift_by_hand():
    before = torch.tensor([[4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    same = shields.ranking_drift(before, before.clone(), k=2)
    assert same == {"overlap@2": 1.0, "same_list@2": 1.0, "kendall_tau": 1.0, "max_abs_change": 0.0}
    after = torch.tensor([[3.0, 4.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])    # user 0: top-2 swapped
    moved = shields.ranking_drift(before, after, k=2)
    assert moved["overlap@2"] == 1.0 and moved["same_list@2"] == 0.5
    assert moved["kendall_tau"] == pytest.approx((2 / 3 + 1) / 2)
    assert moved["max_abs_change"] == 1.0
