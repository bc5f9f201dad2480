"""Sequential encoders: shapes, padding invariance, causality, hand-checked maths, trainability."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from recrl_core.seqrec import heads
from recrl_core.seqrec.caser import Caser
from recrl_core.seqrec.embedding import last_items, last_valid

N, H, T = 30, 16, 6
BACKBONES = heads.BACKBONES


def make_encoder(backbone, seed=0, num_items=N, **overrides):
    torch.manual_seed(seed)
    cfg = heads.EncoderConfig(backbone=backbone, hidden_size=H, state_len=T, **overrides)
    return heads.build_encoder(cfg, num_items)


def batch(seed=1):
    """Four right-padded histories of width T with lengths 1, 3, 4 and 6."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([1, 3, 4, 6])
    items = torch.randint(0, N, (4, T), generator=gen)
    items[torch.arange(T)[None, :] >= lengths[:, None]] = N                # right padding
    return items, lengths


@pytest.mark.parametrize("backbone", BACKBONES)
def test_state_shape(backbone):
    encoder = make_encoder(backbone)
    items, lengths = batch()
    state = encoder(items, lengths)
    assert state.shape == (4, H) and encoder.hidden_size == H
    assert torch.isfinite(state).all()


@pytest.mark.parametrize("backbone", BACKBONES)
def test_padding_invariance(backbone):
    encoder = make_encoder(backbone).eval()
    items, lengths = batch()
    wider = torch.cat([items, torch.full((4, 5), N)], dim=1)               # (4, T + 5) more padding
    junk = wider.clone()
    beyond = torch.arange(T + 5)[None, :] >= lengths[:, None]
    junk[beyond] = torch.randint(0, N, (int(beyond.sum()),), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = encoder(items, lengths)
        torch.testing.assert_close(encoder(wider, lengths), ref, atol=1e-6, rtol=0)
        torch.testing.assert_close(encoder(junk, lengths), ref, atol=1e-6, rtol=0)


def test_caser_horizontal_ignores_rows_beyond_length():
    caser = make_encoder("caser").eval()
    emb = torch.randn(4, T, H)
    lengths = torch.tensor([1, 2, 3, 6])                                   # 1, 2 are shorter than h = 3, 4
    noisy = torch.cat([emb, torch.randn(4, 3, H)], dim=1)                  # (4, T + 3)
    noisy[torch.arange(T + 3)[None, :] >= lengths[:, None]] = 5.0          # large junk beyond lengths
    clean = emb * (torch.arange(T)[None, :] < lengths[:, None])[..., None]
    with torch.no_grad():
        torch.testing.assert_close(caser.horizontal(noisy, lengths), caser.horizontal(clean, lengths))


def test_caser_horizontal_by_hand():
    torch.manual_seed(0)
    caser = Caser(N, 4, state_len=5, num_filters=1, filter_sizes=(2,))
    emb = torch.randn(1, 5, 4)
    w, b = caser.horizontal_convs[0].weight[0, 0], caser.horizontal_convs[0].bias[0]  # (2, 4), ()
    windows = [torch.relu((w * emb[0, s:s + 2]).sum() + b) for s in (0, 1)]  # length 3: starts 0, 1
    with torch.no_grad():
        got = caser.horizontal(emb, torch.tensor([3]))
    torch.testing.assert_close(got, torch.stack(windows).max().reshape(1, 1))


def test_caser_counts_only_windows_inside_the_sequence():
    caser = Caser(N, 4, state_len=5, num_filters=1, filter_sizes=(2,))
    with torch.no_grad():
        caser.horizontal_convs[0].weight.fill_(-1.0)
        caser.horizontal_convs[0].bias.fill_(3.0)
        emb = torch.full((2, 5, 4), 0.25)                                  # (B, T, H)
        got = caser.horizontal(emb, torch.tensor([3, 1]))
    # A window with k real rows scores relu(3 - 0.25 * 4 * k): full 1, half 2, all-padding 3.
    # Length 3: windows at s = 0, 1 are full -> 1. Length 1 < h: only s = 0 (one real row) -> 2.
    assert got.flatten().tolist() == [1.0, 2.0]


RECBOLE_ARCH = dict(num_blocks=2, num_heads=2, ffn_multiple=4, activation="gelu", norm_first=False, init_std=0.02)


def test_recbole_sasrec_sets_the_architecture_and_keeps_the_sizes():
    base = heads.EncoderConfig(backbone="gru4rec", hidden_size=16, state_len=7)
    rb = base.recbole_sasrec()
    assert rb == dataclasses.replace(base, backbone="sasrec", dropout=0.5, tie_output=True, **RECBOLE_ARCH)
    net = heads.make_net(rb, N, seed=0)
    assert net.supervised.linear is None and net.encoder.blocks[0].ffn[0].out_features == 4 * 16


@pytest.mark.parametrize("arch", [{}, RECBOLE_ARCH], ids=["paper", "recbole"])
def test_sasrec_is_causal(arch):
    sasrec = make_encoder("sasrec", **({"num_blocks": 2} | arch)).eval()
    items = torch.tensor([[3, 7, 1, 9, 4, 2]])
    lengths = torch.tensor([6])
    changed = items.clone()
    changed[0, 3:] = torch.tensor([11, 12, 13])                            # future of position 2
    with torch.no_grad():
        before, after = sasrec.sequence_output(items, lengths), sasrec.sequence_output(changed, lengths)
    torch.testing.assert_close(after[:, :3], before[:, :3], atol=1e-6, rtol=0)
    assert not torch.allclose(after[:, 3], before[:, 3])


@pytest.mark.parametrize("arch", [{}, RECBOLE_ARCH], ids=["paper", "recbole"])
def test_sasrec_padded_outputs_are_zero(arch):
    sasrec = make_encoder("sasrec", **arch).eval()
    items, lengths = batch()
    with torch.no_grad():
        out = sasrec.sequence_output(items, lengths)                       # (4, T, H)
    assert torch.isfinite(out).all()
    assert (out[torch.arange(T)[None, :] >= lengths[:, None]] == 0).all()


def test_gru4rec_matches_manual_loop():
    gru4rec = make_encoder("gru4rec")
    items, lengths = batch()
    row = 2                                                                # length 4
    g = gru4rec.gru
    h = torch.zeros(H)
    for item in items[row, :lengths[row]]:
        x = gru4rec.embedding.weight[item]
        gi = g.weight_ih_l0 @ x + g.bias_ih_l0                             # (3H,) order r, z, n
        gh = g.weight_hh_l0 @ h + g.bias_hh_l0
        r = torch.sigmoid(gi[:H] + gh[:H])
        z = torch.sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = torch.tanh(gi[2 * H:] + r * gh[2 * H:])
        h = (1 - z) * n + z * h
    torch.testing.assert_close(gru4rec(items, lengths)[row], h, atol=1e-6, rtol=1e-5)


def test_last_items_by_hand():
    pad = 99
    items = torch.tensor([[1, 2, 3, 4, 5, pad, pad],
                          [6, 7, pad, pad, pad, pad, pad],
                          [pad, pad, pad, pad, pad, pad, pad],
                          [8, 9, 10, 11, 12, 13, 14]])
    out, lengths = last_items(items, torch.tensor([5, 2, 0, 7]), n=3, pad_id=pad)
    assert out.tolist() == [[3, 4, 5], [6, 7, pad], [pad, pad, pad], [12, 13, 14]]
    assert lengths.tolist() == [3, 2, 1, 3]                               # empty -> one pad token


def test_last_valid_by_hand():
    outputs = torch.arange(2 * 3 * 1, dtype=torch.float).reshape(2, 3, 1)  # (B, T, H)
    assert last_valid(outputs, torch.tensor([2, 3])).tolist() == [[1.0], [5.0]]


@pytest.mark.parametrize("backbone", BACKBONES)
def test_two_head_score_reads_only_last_state_len_items(backbone):
    model = heads.TwoHead(make_encoder(backbone), N, state_len=T).eval()
    long = torch.randint(0, N, (2, 12), generator=torch.Generator().manual_seed(3))  # (B, 12)
    lengths = torch.tensor([12, 9])
    other = long.clone()
    other[:, :3] = (other[:, :3] + 1) % N                                  # older than the last 6
    with torch.no_grad():
        scores = model.score(torch.zeros(2), long, lengths)
        torch.testing.assert_close(model.score(torch.zeros(2), other, lengths), scores)
        window = torch.stack([long[0, 6:12], long[1, 3:9]])                # last 6 real items, by hand
        logits, q_values = model(window, torch.tensor([6, 6]))
    assert scores.shape == (2, N) and q_values.shape == (2, N)
    torch.testing.assert_close(scores, logits)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_same_seed_same_output(backbone):
    items, lengths = batch()
    first, second = make_encoder(backbone, seed=4).eval(), make_encoder(backbone, seed=4).eval()
    with torch.no_grad():
        assert torch.equal(first(items, lengths), second(items, lengths))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_one_step_lowers_loss_and_changes_weights(backbone):
    model = heads.TwoHead(make_encoder(backbone, dropout=0.0), N, state_len=T)
    items, lengths = batch()
    target = torch.tensor([0, 5, 10, 15])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in model.encoder.parameters()]
    loss0 = F.cross_entropy(model(items, lengths)[0], target)
    opt.zero_grad()
    loss0.backward()
    opt.step()
    loss1 = F.cross_entropy(model(items, lengths)[0], target)
    assert loss1 < loss0
    assert any(not torch.equal(b, p) for b, p in zip(before, model.encoder.parameters()))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_overfits_a_tiny_batch(backbone):
    num_items, gen = 64, torch.Generator().manual_seed(5)
    lengths = torch.randint(2, T + 1, (32,), generator=gen)
    items = torch.randint(0, num_items, (32, T), generator=gen)
    items[:, 0] = torch.randperm(num_items, generator=gen)[:32]            # 32 distinct histories
    items[torch.arange(T)[None, :] >= lengths[:, None]] = num_items
    target = torch.randint(0, num_items, (32,), generator=gen)
    model = heads.TwoHead(make_encoder(backbone, num_items=num_items), num_items, state_len=T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = F.cross_entropy(model(items, lengths)[0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        hits = model.score(torch.zeros(32), items, lengths).argmax(dim=1) == target
    assert hits.float().mean() > 0.9


def test_make_net_seed_fixes_the_weights_and_wrap_encoder_wraps_the_backbone():
    cfg = heads.EncoderConfig(hidden_size=H, state_len=T)
    a, b, c = heads.make_net(cfg, N, 3), heads.make_net(cfg, N, 3), heads.make_net(cfg, N, 4)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.supervised.linear.weight, c.supervised.linear.weight)

    class Wrapper(torch.nn.Module):
        def __init__(self, backbone):
            super().__init__()
            self.backbone, self.hidden_size = backbone, backbone.hidden_size

    wrapped = heads.make_net(cfg, N, 3, wrap_encoder=Wrapper)
    assert isinstance(wrapped.encoder, Wrapper)
    for x, y in zip(wrapped.encoder.backbone.parameters(), a.encoder.parameters()):   # the same draws, first
        assert torch.equal(x, y)


def test_make_pair_seeds_two_seed_and_two_seed_plus_one():
    from recrl_core.rl import double_q

    cfg = heads.EncoderConfig(hidden_size=H, state_len=T)
    pair = double_q.make_pair(cfg, N, 2, lr=0.01, lr_2=0.001)
    for net, seed in zip(pair.networks, (4, 5)):
        ref = heads.make_net(cfg, N, seed)
        assert all(torch.equal(x, y) for x, y in zip(net.state_dict().values(), ref.state_dict().values()))
    assert len(pair.optimizers) == len(pair.optimizers_phase2) == 2
    assert pair.optimizers_phase2[0].param_groups[0]["lr"] == 0.001


def test_sasrec_variants_build_what_they_say():
    paper, rb = make_encoder("sasrec"), make_encoder("sasrec", **RECBOLE_ARCH)
    assert paper.blocks[0].ffn[0].out_features == H and isinstance(paper.blocks[0].ffn[1], torch.nn.ReLU)
    assert rb.blocks[0].ffn[0].out_features == 4 * H and isinstance(rb.blocks[0].ffn[1], torch.nn.GELU)
    assert hasattr(paper, "final_norm") and not hasattr(paper, "input_norm")
    assert hasattr(rb, "input_norm") and not hasattr(rb, "final_norm") and not rb.blocks[0].norm_first
    weights = torch.cat([rb.embedding.weight[:N].flatten(), rb.blocks[0].ffn[0].weight.flatten(),
                         rb.blocks[0].attn.in_proj_weight.flatten()]).detach()
    assert abs(float(weights.std()) - 0.02) < 0.002 and float(rb.blocks[0].ffn[0].bias.abs().max()) == 0.0
    assert float(rb.embedding.weight[N].abs().max()) == 0.0                # the pad row stays 0
    with pytest.raises(ValueError, match="activation must be one of"):
        make_encoder("sasrec", activation="tanh")


def test_post_ln_block_by_hand():
    torch.manual_seed(0)
    sasrec = make_encoder("sasrec", **(RECBOLE_ARCH | {"num_blocks": 1, "num_heads": 1})).eval()
    items, lengths = torch.tensor([[3, 7, 1, N, N, N]]), torch.tensor([3])
    block, L = sasrec.blocks[0], 3
    with torch.no_grad():
        x = sasrec.input_norm(sasrec.embedding(items[0, :L]) + sasrec.positions.weight[:L])    # (L, H)
        W_q, W_k, W_v = block.attn.in_proj_weight.chunk(3)
        b_q, b_k, b_v = block.attn.in_proj_bias.chunk(3)
        q, k, v = x @ W_q.T + b_q, x @ W_k.T + b_k, x @ W_v.T + b_v
        scores = (q @ k.T / H ** 0.5).masked_fill(torch.ones(L, L, dtype=torch.bool).triu(1), float("-inf"))
        attended = torch.softmax(scores, -1) @ v @ block.attn.out_proj.weight.T + block.attn.out_proj.bias
        a = block.attn_norm(x + attended)                                  # post-LN: norm after the residual
        ffn = block.ffn[3](F.gelu(block.ffn[0](a)))
        by_hand = block.ffn_norm(a + ffn)                                  # (L, H), no final norm
        lib = sasrec.sequence_output(items, lengths)[0, :L]
    torch.testing.assert_close(lib, by_hand, atol=1e-5, rtol=1e-5)


def test_gru4rec_sequence_output_is_the_state_of_every_prefix():
    gru = make_encoder("gru4rec").eval()
    items, lengths = batch()
    with torch.no_grad():
        out = gru.sequence_output(items, lengths)                          # (4, T, H)
        for b, n in enumerate(lengths.tolist()):
            for t in range(n):
                torch.testing.assert_close(out[b, t], gru(items[b:b + 1, :t + 1], torch.tensor([t + 1]))[0])
    assert (out[torch.arange(T)[None, :] >= lengths[:, None]] == 0).all()
