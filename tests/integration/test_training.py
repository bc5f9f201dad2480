"""Training loops on synthetic data: updates change weights, seeds fix trajectories, resume is exact."""

import numpy as np
import pandas as pd
import pytest
import torch

from recrl_core.data import interactions, replay, sequences, synthetic, transitions
from recrl_core.eval import offline
from recrl_core.rl import double_q, sa2c, sqn
from recrl_core.seqrec import heads
from recrl_core.train import loops


@pytest.fixture(scope="module")
def data():
    gen = synthetic.make_synthetic(num_users=40, num_items=30, events_per_user=(8, 14),
                                   rng=np.random.default_rng(0))
    frame = interactions.sort_chronologically(gen.interactions)
    frame["behaviour"] = interactions.label_behaviour(frame, 4.0)
    enc = interactions.encode(frame)
    labels = sequences.global_time_split(enc.frame, 0.1, 0.1)
    train = enc.frame[labels.to_numpy() == "train"]
    buffer = replay.ReplayBuffer(transitions.build_transitions(train, transitions.TransitionConfig(), enc.pad_id))
    val = sequences.eval_events(enc.frame, labels, "val", 10, enc.pad_id)
    return enc, buffer, val


ENC = heads.EncoderConfig(backbone="gru4rec", hidden_size=8)
EVAL = offline.EvalConfig(ks=(5, 10))


def _net(num_items, seed):
    torch.manual_seed(seed)
    return heads.TwoHead(heads.build_encoder(ENC, num_items), num_items, ENC.state_len)


def _pair(method, num_items, seed=0):
    cfg = (sqn.SQNConfig(batch_size=32, epochs=2, warmup_steps=3, eval_every=4) if method in ("sqn", "sac")
           else sa2c.SA2CConfig(batch_size=32, epochs=2, warmup_steps=3, eval_every=4, num_negatives=3))
    pair = double_q.DoubleQPair(_net(num_items, seed), _net(num_items, seed + 1), cfg.lr,
                                getattr(cfg, "lr_2", None))
    return pair, cfg


@pytest.mark.parametrize("method", loops.METHODS)
def test_rl_step_updates_only_the_main_network(data, method):
    enc, buffer, _ = data
    pair, cfg = _pair(method, enc.num_items)
    before = [[p.detach().clone() for p in net.parameters()] for net in pair.networks]
    batch = buffer.sample(cfg.batch_size, np.random.default_rng(1)).to_torch()
    item_prob = torch.full((enc.num_items,), 1.0 / enc.num_items)
    parts, main_i = loops.rl_step(pair, batch, method, cfg, step=10, rng=np.random.default_rng(2),
                                  item_prob=item_prob)
    assert np.isfinite(parts["loss"])
    changed = [any(not torch.equal(a, b) for a, b in zip(old, net.parameters()))
               for old, net in zip(before, pair.networks)]
    assert changed[main_i] and not changed[1 - main_i]


def test_supervised_fit_is_deterministic_and_selects_on_validation(data):
    enc, buffer, val = data
    cfg = loops.SupervisedConfig(batch_size=32, epochs=3, eval_every=4)
    runs = [loops.fit_supervised(_net(enc.num_items, 0), buffer, val, cfg, EVAL, np.random.default_rng(5))
            for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0].history, runs[1].history)
    evals = runs[0].history.dropna(subset=["val/ndcg@10/purchase"])
    assert runs[0].best_metric == pytest.approx(evals["val/ndcg@10/purchase"].max())
    assert runs[0].best_step in evals["update"].tolist()


@pytest.mark.parametrize("method", ["sqn", "sa2c"])
def test_resume_from_checkpoint_gives_the_uninterrupted_trajectory(data, method, tmp_path):
    enc, buffer, val = data
    prob = np.full(enc.num_items, 1.0 / enc.num_items)
    pair, cfg = _pair(method, enc.num_items)
    whole = loops.fit_rl(pair, method, buffer, val, cfg, EVAL, np.random.default_rng(7), item_prob=prob)

    pair, cfg = _pair(method, enc.num_items)
    first = loops.fit_rl(pair, method, buffer, val, cfg, EVAL, np.random.default_rng(7), item_prob=prob,
                         checkpoint_dir=tmp_path / "ck", stop_at_step=5)
    assert first.history["update"].max() == 5
    pair, cfg = _pair(method, enc.num_items, seed=99)          # fresh weights, wrong on purpose
    rest = loops.fit_rl(pair, method, buffer, val, cfg, EVAL, np.random.default_rng(123), item_prob=prob,
                        checkpoint_dir=tmp_path / "ck")
    pd.testing.assert_frame_equal(rest.history, whole.history)
    assert rest.best_step == whole.best_step and rest.best_metric == whole.best_metric


def test_unknown_method_is_named(data):
    enc, buffer, val = data
    pair, cfg = _pair("sqn", enc.num_items)
    with pytest.raises(ValueError, match="choose from"):
        loops.fit_rl(pair, "dqn", buffer, val, cfg, EVAL, np.random.default_rng(0))


def test_rank_selected_uses_the_best_weights(data):
    enc, buffer, val = data
    result = loops.fit_supervised(_net(enc.num_items, 0), buffer, val,
                                  loops.SupervisedConfig(batch_size=32, epochs=3, eval_every=4), EVAL,
                                  np.random.default_rng(5))
    ranked = loops.rank_selected(_net(enc.num_items, 42), result, val, EVAL)
    res = offline.accuracy_metrics(ranked.ranks, val.behaviour, (10,))
    assert res["ndcg@10/purchase"] == pytest.approx(result.best_metric)


@pytest.mark.parametrize("step, phase2_used", [(0, False), (10, True)])
def test_sa2c_switches_to_the_second_optimizer_after_warm_up(data, step, phase2_used):
    enc, buffer, _ = data
    pair, cfg = _pair("sa2c", enc.num_items)                         # warmup_steps = 3
    batch = buffer.sample(cfg.batch_size, np.random.default_rng(1)).to_torch()
    _, main_i = loops.rl_step(pair, batch, "sa2c", cfg, step=step, rng=np.random.default_rng(2))
    assert bool(pair.optimizers_phase2[main_i].state) is phase2_used    # Adam state exists once it stepped
    assert bool(pair.optimizers[main_i].state) is not phase2_used


# ---- Chapter 4's runs as picklable jobs (train.learner_runs)

def _learner_data(data):
    from recrl_core.train import learner_runs

    enc, buffer, val = data
    n = enc.num_items
    small = dict(batch_size=32, epochs=1, warmup_steps=3, eval_every=4)
    return learner_runs.LearnerData(buffer.transitions, val, val, n, np.full(n, 1.0 / n), np.ones(n), 40, ENC,
                                    loops.SupervisedConfig(batch_size=32, epochs=1, eval_every=4), sqn.SQNConfig(**small),
                                    sa2c.SA2CConfig(num_negatives=3, **small), EVAL)


def test_a_learner_job_is_the_chapter_recipe(data):
    """CE through a job equals fit_supervised on heads.make_net(enc, N, 2 * seed) with make_rng(seed)."""
    from recrl_core import seeding
    from recrl_core.train import learner_runs

    d = _learner_data(data)
    out = learner_runs.run(learner_runs.LearnerJob(d, "gru4rec", "CE", seed=1, lr=1e-2))
    model = heads.make_net(ENC, d.num_items, 2)
    ref = loops.fit_supervised(model, replay.ReplayBuffer(d.transitions), d.val,
                               loops.SupervisedConfig(batch_size=32, epochs=1, eval_every=4, lr=1e-2), EVAL,
                               seeding.make_rng(1))
    pd.testing.assert_frame_equal(out["history"], ref.history)
    assert out["val ndcg@10/purchase"] == ref.best_metric and {"coverage@10", "novelty@10"} <= set(out)
    with pytest.raises(ValueError, match="unknown method"):
        learner_runs.fit(learner_runs.LearnerJob(d, "gru4rec", "PPO", seed=0))


def test_learner_jobs_do_not_depend_on_the_number_of_workers(data):
    from recrl_core.train import learner_runs, parallel

    d = _learner_data(data)
    jobs = [learner_runs.LearnerJob(d, "gru4rec", m, seed=s) for m, s in [("CE", 0), ("SQN", 1), ("SA2C", 2)]]
    one, two = parallel.map_jobs(learner_runs.run, jobs, workers=1), parallel.map_jobs(learner_runs.run, jobs, workers=2)
    for a, b in zip(one, two):
        pd.testing.assert_frame_equal(a.pop("history"), b.pop("history"))
        a.pop("seconds"), b.pop("seconds")
        assert a == b


# ---- every-position cross-entropy (train.sequence_ce) through the same loop

@pytest.mark.parametrize("backbone", ["gru4rec", "sasrec"])
def test_every_position_fit_runs_the_loops_budget_and_resumes_exactly(data, backbone, tmp_path):
    from recrl_core.train import sequence_ce

    enc, _, val = data
    cfg = heads.EncoderConfig(backbone=backbone, hidden_size=8, state_len=5, tie_output=True)
    seqs = sequences.user_sequences(_train_frame(enc)).values()
    windows = sequence_ce.windows(seqs, cfg.state_len, enc.pad_id)
    sup = loops.SupervisedConfig(batch_size=16, epochs=2, eval_every=5)
    whole = sequence_ce.fit_every_position(heads.make_net(cfg, enc.num_items, 0), windows, val, sup, EVAL,
                                           np.random.default_rng(3))
    targets = int(windows.lengths.sum())
    assert whole.history["update"].max() == loops.total_steps(targets, sup.batch_size, sup.epochs)
    losses = whole.history["loss"].dropna().to_numpy()
    assert np.isfinite(losses).all() and losses[-5:].mean() < losses[:5].mean()
    first = sequence_ce.fit_every_position(heads.make_net(cfg, enc.num_items, 0), windows, val, sup, EVAL,
                                           np.random.default_rng(3), checkpoint_dir=tmp_path / "ck", stop_at_step=4)
    assert first.history["update"].max() == 4
    rest = sequence_ce.fit_every_position(heads.make_net(cfg, enc.num_items, 9), windows, val, sup, EVAL,
                                          np.random.default_rng(99), checkpoint_dir=tmp_path / "ck")
    pd.testing.assert_frame_equal(rest.history, whole.history)


def _train_frame(enc):
    labels = sequences.global_time_split(enc.frame, 0.1, 0.1)
    return enc.frame[labels.to_numpy() == "train"]
