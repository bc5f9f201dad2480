"""LEA's RL side on tiny synthetic data: losses by hand, attach, variants, the fused student, fit_lea."""

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from recrl_core import seeding
from recrl_core.config import Mode
from recrl_core.data import negatives, replay, sequences, transitions
from recrl_core.eval import offline
from recrl_core.methods.lea import fusion, learner
from recrl_core.rl import double_q, sa2c, sqn
from recrl_core.seqrec import heads
from recrl_core.train import loops

N, T, D, E = 12, 5, 6, 192
ENC = heads.EncoderConfig(backbone="gru4rec", hidden_size=8, state_len=T)
EVAL = offline.EvalConfig(ks=(5, 10))
SQN = sqn.SQNConfig(batch_size=32, epochs=2, warmup_steps=3, eval_every=4)
SA2C = sa2c.SA2CConfig(batch_size=32, epochs=2, warmup_steps=3, eval_every=4, num_negatives=3)

# ---- synthetic data: aug items are the two items after the last one; the logged item is 5-10 later


def _transitions(rng, e=E):
    lengths = rng.integers(1, T + 1, size=e)
    state = np.full((e, T), N, dtype=np.int64)
    for row, n in enumerate(lengths):
        state[row, :n] = rng.integers(0, N, size=n)
    last = state[np.arange(e), lengths - 1]
    action = (last + rng.integers(5, 11, size=e)) % N
    next_state, len_next = state.copy(), np.minimum(lengths + 1, T)
    for row, n in enumerate(lengths):
        next_state[row] = np.r_[state[row, :n], action[row], [N] * T][max(0, n + 1 - T):][:T]
    purchase = rng.random(e) < 0.3
    return transitions.Transitions(state=state, len_state=lengths, action=action.astype(np.int64),
                                   reward=np.where(purchase, 1.0, 0.2).astype(np.float32),
                                   next_state=next_state, len_next_state=len_next,
                                   done=(rng.random(e) < 0.1).astype(np.float32), is_purchase=purchase)


@pytest.fixture(scope="module")
def data():
    return _make_data()


def _make_data():
    """(Transitions, LE arrays, item vectors (N, D), validation events)."""
    rng = np.random.default_rng(0)
    t = _transitions(rng)
    vectors = rng.normal(size=(N, D)).astype(np.float32)
    last = t.state[np.arange(E), t.len_state - 1]
    aug = np.stack([(last + 1) % N, (last + 2) % N], axis=1)                 # (E, 2)
    le = dict(le_state=vectors[last] + 0.1 * rng.normal(size=(E, D)).astype(np.float32),
              le_reward=rng.normal(size=E).astype(np.float32), aug_actions=aug,
              aug_reward=rng.normal(size=(E, 2)).astype(np.float32) + 1.0)
    m = 30
    items = np.full((m, 8), N, dtype=np.int64)
    lengths = rng.integers(1, 9, size=m)
    for row, n in enumerate(lengths):
        items[row, :n] = rng.integers(0, N, size=n)
    val = sequences.EvalEvents(users=np.arange(m), items=items, lengths=lengths,
                               target=rng.integers(0, N, size=m),
                               behaviour=np.where(np.arange(m) % 3 == 0, "purchase", "click"),
                               time=np.arange(m))
    return t, le, vectors, val


def _attached(data, cfg):
    t, le, _, _ = data
    return learner.attach_le_pass(t, le["le_state"], le["le_reward"], le["aug_actions"], le["aug_reward"], cfg)


def _batch(data, cfg, size=32, seed=1):
    return replay.ReplayBuffer(_attached(data, cfg)).sample(size, np.random.default_rng(seed)).to_torch()


# ---- the losses by hand (B = 2, N = 4, K = 2)

Q = torch.tensor([[1.0, 2.0, 0.5, -1.0], [0.0, 1.0, 3.0, 2.0]])
Q_TGT = torch.tensor([[0.2, 0.4, 0.6, 0.8], [1.0, 0.0, -1.0, 0.5]])
Q_NEXT = torch.tensor([[0.0, 0.0, 1.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
AUG = torch.tensor([[1, 2], [3, 0]])
R_AUG = torch.tensor([[0.5, 0.25], [1.0, 0.0]])
DONE = torch.tensor([0.0, 1.0])
# same: y = r + 0.5 * Q_tgt(s_t, argmax Q(s_t)) = r + [0.2, -0.5]; next: r + 0.5 * (1 - d) * [0.6, .]
EXPECTED_Q = {"same": [0.5 * 1.3**2 + 0.5 * 0.05**2, 0.5 * 1.5**2 + 0.5 * 0.5**2],
              "next": [0.5 * 1.2**2 + 0.5 * 0.05**2, 0.5 * 1.0**2]}


def test_augmented_supervised_loss_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, math.log(2), math.log(3), math.log(4)]])
    # row 0: 2 * ln 4; row 1: -ln 0.4 - ln 0.1 = ln 25
    torch.testing.assert_close(learner.augmented_supervised_loss(logits, AUG),
                               torch.tensor([math.log(16), math.log(25)]))
    assert learner.augmented_supervised_loss(logits, AUG[:, :0]).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("how", ["same", "next"])
def test_augmented_q_loss_by_hand(how):
    boot = (Q, Q_TGT, torch.zeros(2)) if how == "same" else (Q_NEXT, Q_TGT, DONE)
    got = learner.augmented_q_loss(Q.clone().requires_grad_(), AUG, R_AUG, *boot, gamma=0.5)
    torch.testing.assert_close(got, torch.tensor(EXPECTED_Q[how]))


class _FixedNet(torch.nn.Module):
    """Fixed Q-values: ``at_state`` for histories of item 0 (s_t), ``at_next`` for item 1 (s_{t+1})."""

    def __init__(self, at_state, at_next):
        super().__init__()
        self.encoder, self.at_state, self.at_next = torch.nn.Identity(), at_state, at_next

    def q_values(self, items, lengths):
        return self.at_next if bool(items[0, 0]) else self.at_state


@pytest.mark.parametrize("how", ["same", "next"])
def test_lea_extra_loss_bootstraps_from_the_configured_state(how):
    main, target = _FixedNet(Q, Q_NEXT), _FixedNet(Q_TGT, Q_TGT)
    batch = {"state": torch.zeros(2, 1, dtype=torch.long), "len_state": torch.ones(2, dtype=torch.long),
             "next_state": torch.ones(2, 1, dtype=torch.long), "len_next_state": torch.ones(2, dtype=torch.long),
             "done": DONE, "aug_actions": AUG, "aug_reward": R_AUG}
    cfg = learner.LEAConfig(aug_next_state=how, lambda_aug=0.5)
    logits = torch.zeros(2, 4)
    out = learner.lea_extra_loss(cfg, gamma=0.5)(main, target, batch, logits, Q.clone().requires_grad_())
    assert out["aug_q"].item() == pytest.approx(np.mean(EXPECTED_Q[how]))
    assert out["loss"].item() == pytest.approx(0.5 * 2 * math.log(4) + np.mean(EXPECTED_Q[how]))
    assert "distill" not in out                                            # no student on this network


def test_distill_loss_is_squared_distance_of_unit_vectors():
    got = fusion.distill_loss(torch.tensor([[3.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 5.0], [2.0, 2.0]]))
    torch.testing.assert_close(got, torch.tensor([2.0, 0.0]))              # 2 - 2 cos: 90 degrees, 0 degrees


# ---- rewards, attach, variants, LETransitions


def test_normalise_reward_by_hand():
    np.testing.assert_allclose(learner.normalise_reward(np.array([0.0, math.log(3)]), "sigmoid"), [0.5, 0.75])
    s = 1 / (1 + math.e)                                                    # sigma(-1)
    np.testing.assert_allclose(learner.normalise_reward(np.array([1.0, 3.0]), "zscore"), [s, 1 - s], rtol=1e-6)
    np.testing.assert_allclose(learner.normalise_reward(np.array([2.0, 4.0]), "zscore", ref=np.array([1.0, 3.0])),
                               [0.5, 1 / (1 + math.exp(-2))], rtol=1e-6)
    with pytest.raises(ValueError, match="sigmoid, zscore"):
        learner.normalise_reward(np.zeros(2), "minmax")


def _three_rows():
    t = _transitions(np.random.default_rng(3), e=3)
    le_reward = np.array([0.0, math.log(3), -math.log(3)], dtype=np.float32)   # sigmoid: .5, .75, .25
    aug = (t.action[:, None] + np.array([[1, 2]])) % N
    return t, np.ones((3, D), np.float32), le_reward, aug, np.zeros((3, 2), np.float32)


@pytest.mark.parametrize("kind, expected", [("logged", None), ("normalised", [0.5, 0.75, 0.25]),
                                            ("shaped", "base + eta * norm")])
def test_attach_rewards(kind, expected):
    t, le_state, le_reward, aug, aug_reward = _three_rows()
    cfg = learner.LEAConfig(le_reward=kind, eta=0.4, aug_k=1, reward_norm="sigmoid")
    out = learner.attach_le_pass(t, le_state, le_reward, aug, aug_reward, cfg)
    want = {"logged": t.reward, "normalised": expected,
            "shaped": t.reward + 0.4 * np.array([0.5, 0.75, 0.25])}[kind]
    np.testing.assert_allclose(out.reward, want, rtol=1e-6)
    np.testing.assert_allclose(out.le_reward, [0.5, 0.75, 0.25], rtol=1e-6)
    assert out.aug_actions.tolist() == aug[:, :1].tolist() and out.aug_reward.tolist() == [[0.5]] * 3
    np.testing.assert_array_equal(out.action, t.action)


@pytest.mark.parametrize("arg, bad, match", [
    (1, np.ones((2, D)), r"le_state must have shape \(E, D\)"),
    (2, np.ones((3, 1)), r"le_reward must have shape \(E,\)"),
    (3, np.ones(3), r"aug_actions must have shape \(E, Kmax\)"),
    (4, np.ones((3, 3)), r"aug_reward must have shape \(E, Kmax\) = \(3, 2\)"),
    (3, np.ones((3, 1), np.int64), "aug_actions has 1 columns, cfg.aug_k = 2"),
])
def test_attach_names_the_bad_array(arg, bad, match):
    args = list(_three_rows())
    args[arg] = bad
    if arg == 3 and bad.ndim == 2:
        args[4] = np.zeros((3, 1), np.float32)
    with pytest.raises(ValueError, match=match):
        learner.attach_le_pass(*args, learner.LEAConfig(aug_k=2))


def test_attach_refuses_the_logged_action_as_augmentation():
    t, le_state, le_reward, aug, aug_reward = _three_rows()
    aug[1, 0] = t.action[1]
    with pytest.raises(ValueError, match="logged action"):
        learner.attach_le_pass(t, le_state, le_reward, aug, aug_reward, learner.LEAConfig())


def test_variants_are_the_ablation_rows():
    rows = {name: learner.variant(name, learner.LEAConfig(aug_k=1)) for name in learner.VARIANTS}
    got = {name: (c.state_fusion, c.le_reward, c.aug_k) for name, c in rows.items()}
    assert got == {"base": ("none", "logged", 0), "state": ("mlp", "logged", 0),
                   "reward": ("none", "normalised", 0), "state+reward": ("mlp", "normalised", 0),
                   "lea": ("mlp", "normalised", 1)}
    assert learner.variant("lea") == learner.LEAConfig()
    with pytest.raises(ValueError, match="base, state, reward, state\\+reward, lea"):
        learner.variant("full")
    for field, value in [("state_fusion", "concat"), ("le_reward", "raw"), ("reward_norm", "rank"),
                         ("aug_next_state", "random"), ("branch", "lstm")]:
        with pytest.raises(ValueError, match="choose one of"):
            learner.LEAConfig(**{field: value})


def test_take_keeps_the_le_fields(data):
    out = _attached(data, learner.LEAConfig())
    part = out.take(np.array([5, 0]))
    assert type(part) is learner.LETransitions
    np.testing.assert_array_equal(part.le_state, out.le_state[[5, 0]])
    np.testing.assert_array_equal(part.aug_actions, out.aug_actions[[5, 0]])
    np.testing.assert_array_equal(part.aug_reward, out.aug_reward[[5, 0]])
    np.testing.assert_array_equal(part.le_reward, out.le_reward[[5, 0]])
    batch = replay.ReplayBuffer(out).sample(4, np.random.default_rng(0)).to_torch()
    assert batch["le_state"].dtype == torch.float32 and batch["le_state"].shape == (4, D)
    assert batch["aug_actions"].dtype == torch.int64 and batch["aug_actions"].shape == (4, 2)


# ---- the fused network: history-only scoring, and a student trained only by distillation


def _pair(data, cfg, seed=0, lr_2=None):
    return learner.build_pair(ENC, N, data[2], D, cfg, lr=0.01, lr_2=lr_2, seed=seed)


def test_fused_model_scores_histories_only(data):
    net = _pair(data, learner.LEAConfig()).networks[0]
    net.eval()
    with torch.no_grad():                                                     # as after training: the LE input counts
        net.encoder.fuse[2].weight.normal_(0, 0.5)
    val = data[3]
    args = [torch.as_tensor(x) for x in (val.users, val.items, val.lengths)]   # T' = 8 > state_len
    scores = net.score(*args)
    assert scores.shape == (len(val), N) and torch.isfinite(scores).all()
    torch.testing.assert_close(net.encoder.branch.embedding.weight[:N], torch.as_tensor(data[2]))
    with torch.no_grad():
        net.encoder.branch.gru.weight_hh_l0.add_(0.5)                         # the student feeds the state
    assert not torch.allclose(net.score(*args), scores)
    assert 0.0 <= offline.evaluate(net, val, ks=(10,))["ndcg@10/purchase"] <= 1.0


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_student_learns_only_from_distillation(data, weight):
    cfg = learner.LEAConfig(distill_weight=weight)
    pair = _pair(data, cfg)
    before = copy.deepcopy([net.state_dict() for net in pair.networks])
    parts, main_i = loops.rl_step(pair, _batch(data, cfg), "sqn", SQN, 0, np.random.default_rng(2),
                                  extra_loss=learner.lea_extra_loss(cfg, SQN.gamma))
    after = pair.networks[main_i].state_dict()
    branch = [k for k in after if k.startswith("encoder.branch.")]
    student_moved = [not torch.equal(after[k], before[main_i][k]) for k in branch]
    assert any(student_moved) is (weight > 0) and all(student_moved) is (weight > 0)
    no_grad = [p.grad is None for p in pair.networks[main_i].encoder.branch.parameters()]
    assert all(no_grad) is (weight == 0)                                      # weight 0: not even a zero grad
    assert not torch.equal(after["encoder.fuse.2.weight"], before[main_i]["encoder.fuse.2.weight"])
    total = parts["supervised"] + parts["q"] + cfg.lambda_aug * parts["aug_supervised"] + parts["aug_q"]
    assert parts["loss"] == pytest.approx(total + weight * parts["distill"], rel=1e-5)     # L_LEA (spec-lea-equations)


# ---- the loop: unchanged without extra_loss, and fit_lea


@pytest.mark.parametrize("method", ["sqn", "sa2c"])
def test_rl_step_without_extra_loss_is_the_plain_method(data, method):
    cfg = SQN if method == "sqn" else SA2C
    pair = _pair(data, learner.variant("base"), lr_2=None if method == "sqn" else SA2C.lr_2)
    twin = copy.deepcopy(pair)
    batch = _batch(data, learner.variant("base"))
    parts, main_i = loops.rl_step(pair, batch, method, cfg, 10, np.random.default_rng(4))
    rng = np.random.default_rng(4)                                             # the pre-LEA path, by hand
    m, t = twin.roles(rng)
    with torch.no_grad():
        nxt = [net.q_values(batch["next_state"], batch["len_next_state"]) for net in (twin.networks[m],
                                                                                   twin.networks[t])]
    logits, q = twin.networks[m](batch["state"], batch["len_state"])
    args = dict(logits=logits, q=q, action=batch["action"], reward=batch["reward"], done=batch["done"],
                q_next_main=nxt[0], q_next_target=nxt[1], gamma=cfg.gamma)
    if method == "sqn":
        ref = sqn.sqn_loss(**args)
    else:
        neg = torch.as_tensor(negatives.sample_negatives(batch["action"].numpy(), N, cfg.num_negatives, rng))
        with torch.no_grad():
            q_curr_target = twin.networks[t].q_values(batch["state"], batch["len_state"])
        ref = sa2c.sa2c_loss(**args, neg_actions=neg, q_curr_main=q.detach(), q_curr_target=q_curr_target,
                             item_prob=None, weight_q=cfg.weight_q, clip=cfg.clip, smooth=cfg.smooth, phase=2)
    twin.step(m, ref["loss"], phase=1 if method == "sqn" else 2)
    assert main_i == m and parts == {k: float(v.detach()) for k, v in ref.items()}
    for net, ref_net in zip(pair.networks, twin.networks):
        for (key, value), ref_value in zip(net.state_dict().items(), ref_net.state_dict().values()):
            assert torch.equal(value, ref_value), key


def test_base_variant_reproduces_chapter_4_fit_rl(data):
    t, le, vectors, val = data
    fit, _ = learner.fit_lea("sqn", ENC, _attached(data, learner.variant("base")), vectors, val, SQN,
                         learner.variant("base"), EVAL, seed=1)

    def make_net(seed):                                                        # Ch. 4's make_net
        seeding.seed_everything(seed)
        return heads.TwoHead(heads.build_encoder(ENC, N), N, ENC.state_len)

    pair = double_q.DoubleQPair(make_net(2), make_net(3), lr=SQN.lr)
    ref = loops.fit_rl(pair, "sqn", replay.ReplayBuffer(t), val, SQN, EVAL, seeding.make_rng(1))
    pd.testing.assert_frame_equal(fit.history, ref.history)


@pytest.mark.parametrize("method, cfg", [("sqn", SQN), ("sa2c", SA2C)])
def test_fit_lea_runs(data, method, cfg):
    lea_cfg = learner.LEAConfig(state_fusion="mlp", aug_k=2)
    fit, pair = learner.fit_lea(method, ENC, _attached(data, lea_cfg), data[2], data[3], cfg, lea_cfg, EVAL,
                            seed=0, item_prob=np.full(N, 1.0 / N))
    steps = fit.history.dropna(subset=["loss"])
    assert len(steps) == loops.total_steps(E, cfg.batch_size, cfg.epochs) and fit.best_step >= 1
    for column in ("loss", "aug_supervised", "aug_q", "distill"):
        assert np.isfinite(steps[column]).all(), column
    assert len(pair.networks[0].state_dict()) == len(fit.best_state)


def _aug_probability(pair, data):
    t, le, _, _ = data
    with torch.no_grad():
        probs = [torch.softmax(net(torch.as_tensor(t.state), torch.as_tensor(t.len_state))[0], -1)
                 for net in pair.networks]
    aug = torch.as_tensor(le["aug_actions"])
    return float(np.mean([p.gather(-1, aug).mean().item() for p in probs]))


def test_augmented_supervised_loss_moves_probability_to_the_augmented_items(data):
    cfg = dataclasses.replace(SQN, epochs=20, eval_every=1000)                # 120 updates
    mass = {}
    for lam in (0.0, 1.0):
        lea_cfg = learner.LEAConfig(state_fusion="none", lambda_aug=lam)
        _, pair = learner.fit_lea("sqn", ENC, _attached(data, lea_cfg), data[2], data[3], cfg, lea_cfg, EVAL, seed=0)
        mass[lam] = _aug_probability(pair, data)
    assert mass[1.0] > 1.5 * mass[0.0], mass


def test_residual_fusion_starts_as_the_backbone(data):
    """mlp fusion: the zero-initialised last layer makes the fused state equal h_G until it learns."""
    t, _, vectors, _ = data
    fused = learner.build_pair(ENC, N, vectors, D, learner.LEAConfig(state_fusion="mlp"), 0.01, None, seed=3).networks[0]
    plain = learner.build_pair(ENC, N, vectors, D, learner.variant("base"), 0.01, None, seed=3).networks[0]
    items, lengths = torch.as_tensor(t.state[:16]), torch.as_tensor(t.len_state[:16])
    with torch.no_grad():
        torch.testing.assert_close(fused.encoder(items, lengths), fused.encoder.backbone(items, lengths))
        fused.encoder.fuse[2].bias.add_(1.0)                               # once it learns, the LE input counts
        assert not torch.allclose(fused.encoder(items, lengths), fused.encoder.backbone(items, lengths))
    assert plain.encoder.fusion == "none"


# ---- the ablation grid's jobs (methods.lea.grid)

def _grid_data(data):
    from recrl_core.methods.lea import grid
    from recrl_core.methods.lea.offline_pass import LEPass

    t, le, vectors, val = data
    le_pass = LEPass(**le, candidate_reward=np.zeros(E, np.float32), item_vectors=vectors)
    return grid.GridData(t, le_pass, val, val, np.full(N, 1.0 / N), ENC, {"sqn": SQN, "sa2c": SA2C}, EVAL, "smoke")


def test_grid_job_applies_variant_and_k_and_is_the_notebook_recipe(data):
    from recrl_core.methods.lea import grid

    shared = _grid_data(data)
    job = grid.GridJob(shared, "gru4rec", "sqn", "lea", seed=0, aug_k=1)
    cfg = grid.lea_config(job)
    assert cfg == dataclasses.replace(learner.variant("lea", learner.LEAConfig.for_mode(Mode.SMOKE)), aug_k=1)
    out = grid.run(job)
    fit, pair = learner.fit_lea("sqn", ENC, _attached(data, cfg), data[2], data[3], SQN, cfg, EVAL, seed=0,
                                item_prob=shared.item_prob)
    ranked = loops.rank_selected(pair.networks[0], fit, data[3], EVAL)
    expected = offline.accuracy_metrics(ranked.ranks, data[3].behaviour, EVAL.ks)
    assert out["seconds"] > 0 and {k: out[k] for k in expected} == pytest.approx(expected)


def test_grid_results_do_not_depend_on_the_number_of_workers(data):
    from recrl_core.methods.lea import grid
    from recrl_core.train import parallel

    shared = _grid_data(data)
    jobs = [grid.GridJob(shared, "gru4rec", m, v, seed=s) for m, v, s in
            [("sqn", "base", 0), ("sa2c", "lea", 1), ("sqn", "state+reward", 2)]]
    one, two = parallel.map_jobs(grid.run, jobs, workers=1), parallel.map_jobs(grid.run, jobs, workers=2)
    for a, b in zip(one, two):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
