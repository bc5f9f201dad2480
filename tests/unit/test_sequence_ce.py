"""Every-position next-item cross-entropy, and the output scores tied to the item embedding."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recrl_core.seqrec import heads
from recrl_core.train import sequence_ce

N, H = 3, 4


def test_windows_hold_every_target_once():
    seqs = [np.array([0, 1, 2]), np.array([2, 0, 1, 2, 1]), np.array([1])]         # the last has no target
    w = sequence_ce.windows(seqs, width=2, pad_id=N)
    assert w.items.tolist() == [[0, 1], [1, 2], [2, 0]] and w.targets.tolist() == [[1, 2], [2, 1], [0, 1]]
    assert w.lengths.tolist() == [2, 2, 2]
    w3 = sequence_ce.windows(seqs, width=3, pad_id=N)                              # [2, 0, 1, 2, 1]: 3 + 1 targets
    assert w3.items.tolist() == [[0, 1, N], [0, 1, 2], [2, N, N]]
    assert w3.targets.tolist() == [[1, 2, N], [1, 2, 1], [0, N, N]] and w3.lengths.tolist() == [2, 3, 1]
    for width in (1, 2, 3, 7):
        got = sequence_ce.windows(seqs, width, N)
        real = torch.arange(width)[None, :] < got.lengths[:, None]
        assert sorted(got.targets[real].tolist()) == sorted([1, 2, 0, 1, 2, 1])     # x_2..x_n of each, once
    with pytest.raises(ValueError, match="width must be >= 1"):
        sequence_ce.windows(seqs, 0, N)


def tiny_net(tie: bool, state_len: int = 3):
    cfg = heads.EncoderConfig(backbone="sasrec", hidden_size=H, state_len=state_len, tie_output=tie, dropout=0.0)
    net = heads.make_net(cfg, N, seed=0).eval()
    with torch.no_grad():
        net.encoder.embedding.weight[:N].normal_()                                 # move scores off ~0
    return net


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_every_position_loss_by_hand_on_two_sequences(tie):
    net = tiny_net(tie)
    data = sequence_ce.windows([np.array([0, 2, 1]), np.array([1, 0])], width=3, pad_id=N)
    assert data.items.tolist() == [[0, 2, N], [1, N, N]] and data.targets.tolist() == [[2, 1, N], [0, N, N]]
    # three targets: item 2 after [0], item 1 after [0, 2], item 0 after [1]; each scored from its prefix alone
    terms = []
    for prefix, target in [([0], 2), ([0, 2], 1), ([1], 0)]:
        items = torch.tensor([prefix + [N] * (3 - len(prefix))])
        with torch.no_grad():
            logits = net.score(None, items, torch.tensor([len(prefix)]))[0]           # (N,)
        terms.append(-(logits[target] - math.log(float(logits.exp().sum()))))
    with torch.no_grad():
        loss = sequence_ce.every_position_loss(net, data)
    assert math.isclose(float(loss), float(np.mean(terms)), rel_tol=1e-5)


def test_every_position_loss_checks_the_width_and_trains():
    net = tiny_net(True, state_len=2)
    wide = sequence_ce.windows([np.array([0, 1, 2, 0])], width=3, pad_id=N)
    with pytest.raises(ValueError, match="wider than the encoder's state_len 2"):
        sequence_ce.every_position_loss(net, wide)
    data = sequence_ce.windows([np.array([0, 1, 2, 0, 1, 2]), np.array([2, 1, 0, 2])], width=2, pad_id=N)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    first = sequence_ce.train_epoch(net, opt, data, batch_size=2, rng=np.random.default_rng(0))
    for _ in range(30):
        last = sequence_ce.train_epoch(net, opt, data, batch_size=2, rng=np.random.default_rng(0))
    assert last < first and not net.training


def test_tied_scores_are_the_item_embedding():
    tied, untied = tiny_net(True), tiny_net(False)
    state = torch.randn(5, H)
    emb = tied.encoder.embedding.weight
    torch.testing.assert_close(tied.supervised(state), state @ emb[:N].T)            # (5, N), no bias
    assert tied.supervised.linear is None and tied.supervised.weight.shape == (N, H)
    assert untied.supervised.weight is untied.supervised.linear.weight
    own = {id(p) for p in tied.supervised.parameters()}
    assert not own and sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in untied.parameters())
    F.cross_entropy(tied.supervised(state), torch.tensor([0, 1, 2, 0, 1])).backward()
    assert emb.grad is not None and float(emb.grad[:N].abs().sum()) > 0 and float(emb.grad[N].abs().sum()) == 0
