"""One supervised or SQN-family run per picklable job: train, select on validation, test once.

Chapter 4's backbone × method table and its tuning check are many independent runs of
:func:`recrl_core.train.loops.fit_supervised` / :func:`recrl_core.train.loops.fit_rl` on one
dataset. A :class:`LearnerJob` carries the dataset's arrays (:class:`LearnerData`) and the
run's choices, so ``train.parallel.map_jobs`` can spread the runs over worker processes;
like every job there, a run uses one torch thread wherever it runs, so the table does not
depend on the number of workers.

Taught in: sec-snqn-sa2c
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from recrl_core import seeding
from recrl_core.data.replay import ReplayBuffer
from recrl_core.data.sequences import EvalEvents
from recrl_core.data.transitions import Transitions
from recrl_core.eval import offline
from recrl_core.rl import double_q
from recrl_core.seqrec import heads
from recrl_core.train import loops

METHODS = ("CE",) + tuple(m.upper() for m in loops.METHODS)      # CE, SQN, SAC, SNQN, SA2C


@dataclass(frozen=True)
class LearnerData:
    """What every run on one dataset reads (sent once per job to a worker process)."""
    transitions: Transitions
    val: EvalEvents
    test: EvalEvents
    num_items: int
    item_prob: np.ndarray             # (N,) training action frequencies: SA2C's beta(a)
    item_users: np.ndarray            # (N,) training users per item: novelty
    num_train_users: int
    encoder: heads.EncoderConfig
    supervised: loops.SupervisedConfig
    sqn: object                       # rl.sqn.SQNConfig: SQN and SAC
    sa2c: object                      # rl.sa2c.SA2CConfig: SNQN and SA2C
    eval_cfg: offline.EvalConfig


@dataclass(frozen=True)
class LearnerJob:
    data: LearnerData
    backbone: str
    method: str                       # one of METHODS
    seed: int
    hidden_size: int | None = None    # replaces the encoder's hidden size
    lr: float | None = None           # replaces the supervised learning rate (CE only)


def fit(job: LearnerJob) -> tuple[object, loops.FitResult]:
    """Train one learner: ``(the network to rank with, the FitResult)``. CE seeds its net with ``2 * seed``."""
    if job.method not in METHODS:
        raise ValueError(f"unknown method {job.method!r}; choose from {METHODS}")
    d = job.data
    enc = replace(d.encoder, backbone=job.backbone, **({} if job.hidden_size is None else
                                                       {"hidden_size": job.hidden_size}))
    rng, buffer = seeding.make_rng(job.seed), ReplayBuffer(d.transitions)
    if job.method == "CE":
        ce = d.supervised if job.lr is None else replace(d.supervised, lr=job.lr)
        model = heads.make_net(enc, d.num_items, 2 * job.seed)
        return model, loops.fit_supervised(model, buffer, d.val, ce, d.eval_cfg, rng)
    cfg = d.sqn if job.method in ("SQN", "SAC") else d.sa2c
    pair = double_q.make_pair(enc, d.num_items, job.seed, cfg.lr, lr_2=d.sa2c.lr_2 if job.method == "SA2C" else None)
    result = loops.fit_rl(pair, job.method.lower(), buffer, d.val, cfg, d.eval_cfg, rng,
                          item_prob=d.item_prob if job.method == "SA2C" else None)
    return pair.networks[0], result


def run(job: LearnerJob) -> dict:
    """:func:`fit`, then one test pass with the validation-selected weights.

    Returns the test metrics (accuracy per behaviour, coverage and novelty at 10), ``val
    ndcg@10/purchase`` and ``best update`` of the selection, ``seconds`` and the training
    ``history`` (a DataFrame).
    """
    start, d = time.perf_counter(), job.data
    model, result = fit(job)
    ranked = loops.rank_selected(model, result, d.test, d.eval_cfg)
    metrics = offline.accuracy_metrics(ranked.ranks, d.test.behaviour, d.eval_cfg.ks) | offline.beyond_accuracy(
        ranked.top, d.test, k=10, num_items=d.num_items, item_users=d.item_users, num_users=d.num_train_users)
    return metrics | {"val ndcg@10/purchase": result.best_metric, "best update": result.best_step,
                      "seconds": time.perf_counter() - start, "history": result.history}
