"""One cell of Chapter 8's ablation grid per job, picklable, so ``train.parallel.map_jobs`` can spread them.

A cell is (dataset, backbone, learner, variant, seed): the LE pass's outputs attached to the
dataset's replay rows as the variant asks (:func:`recrl_core.methods.lea.learner.attach_le_pass`),
SQN or SA2C trained with the LEA losses and selected on validation purchase NDCG@10
(:func:`recrl_core.methods.lea.learner.fit_lea`), then tested once. The LE itself is not
needed: its pass is arrays (:class:`GridData`), sent once per job to a worker process. Like
every job of ``map_jobs``, a run uses one torch thread wherever it runs, so the grid's
numbers do not depend on the number of workers.

Taught in: sec-lea-grid
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from recrl_core.config import Mode
from recrl_core.data.sequences import EvalEvents
from recrl_core.data.transitions import Transitions
from recrl_core.eval import offline
from recrl_core.methods.lea import learner
from recrl_core.methods.lea.offline_pass import LEPass
from recrl_core.seqrec import heads
from recrl_core.train import loops


@dataclass(frozen=True)
class GridData:
    """What every cell of one dataset reads: its replay rows, LE pass, evaluation events and configs."""
    transitions: Transitions          # the dataset's base replay rows (Chapter 4's rewards)
    le_pass: LEPass                   # the cached offline LE pass over those rows
    val: EvalEvents
    test: EvalEvents
    item_prob: np.ndarray             # (N,) training action frequencies (SA2C's behaviour policy)
    encoder: heads.EncoderConfig
    rl: dict                          # learner name ("sqn" | "sa2c") -> its config
    eval_cfg: offline.EvalConfig
    mode: str                         # Mode value: LEAConfig.for_mode


@dataclass(frozen=True)
class GridJob:
    data: GridData
    backbone: str
    method: str                       # "sqn" | "sa2c"
    variant: str                      # one of learner.VARIANTS
    seed: int
    aug_k: int | None = None          # replaces the variant's K (the K sweep)


def lea_config(job: GridJob) -> learner.LEAConfig:
    """The job's LEA config: the mode's defaults, the variant, then ``aug_k`` if given."""
    cfg = learner.variant(job.variant, learner.LEAConfig.for_mode(Mode(job.data.mode)))
    return cfg if job.aug_k is None else replace(cfg, aug_k=job.aug_k)


def run(job: GridJob) -> dict:
    """Train one cell, select on validation, test once: HR/NDCG@k on the test events, and the seconds it took."""
    start, d, p = time.perf_counter(), job.data, job.data.le_pass
    cfg = lea_config(job)
    trans = learner.attach_le_pass(d.transitions, p.le_state, p.le_reward, p.aug_actions, p.aug_reward, cfg)
    enc = replace(d.encoder, backbone=job.backbone)
    fit, pair = learner.fit_lea(job.method, enc, trans, p.item_vectors, d.val, d.rl[job.method], cfg, d.eval_cfg,
                                job.seed, item_prob=d.item_prob)
    ranked = loops.rank_selected(pair.networks[0], fit, d.test, d.eval_cfg)
    return offline.accuracy_metrics(ranked.ranks, d.test.behaviour, d.eval_cfg.ks) | {
        "seconds": time.perf_counter() - start}
