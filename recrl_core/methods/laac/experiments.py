"""One results-table run per (method, log, seed), picklable, so ``train.parallel.map_jobs`` can spread them.

Methods (spec-laac-setup, "Baselines" and "Ablations"):

* ``ce``, ``sqn`` — Chapter 4's backbones (GRU4Rec), ranked by the supervised head;
* ``atac`` — the adversarial actor-critic with the **data** as reference (no LLM);
* ``laac`` — the LLM's suggestions as reference, with the anchor;
* ``laac_no_anchor`` — the same with λ = 0;
* ``laac_random``, ``laac_oracle`` — the suggestion-quality dial: references of random
  pool items, or of the pool items the simulator knows the user likes most;
* LLM-only re-ranking — no training of its own: the LLM's suggestions first (in its order),
  then CE's ranking; reported by every ``ce`` run as ``llm_only_metrics``.

Every run reports Chapter 2's offline metrics on the test events (history masked),
ILD by genre and by MiniLM embedding, and the **true appeal** of its top-10 among
items the user never logged (the simulator's click probability: what offline logs
cannot score). Critic runs also report the critic's values of the LLM's items and of
the logged actions on training states, against their true appeal (overestimation).

Taught in: sec-laac-results
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from recrl_core.data.replay import ReplayBuffer
from recrl_core.data.sequences import EvalEvents
from recrl_core.eval import offline
from recrl_core.methods.laac import adversarial
from recrl_core.methods.laac.suggestions import reference_weights
from recrl_core.seqrec import heads

METHODS = ("ce", "sqn", "atac", "laac", "laac_no_anchor", "laac_random", "laac_oracle")
REFERENCE_OF = {"laac": "llm", "laac_no_anchor": "llm", "laac_random": "random", "laac_oracle": "oracle"}


@dataclass(frozen=True)
class Shared:
    """Everything a run needs, as arrays (sent once per job to a worker process)."""

    transitions: dict                 # log name -> adversarial.UserTransitions
    val: EvalEvents
    test: EvalEvents
    references: dict                  # name -> (U, K) items, -1 padded (weights: LAACConfig.llm_reference, per run)
    appeal: np.ndarray                # (U, N) true click probability
    world_logged: np.ndarray          # (U, N) bool
    item_users: np.ndarray            # (N,) training users per item (novelty)
    num_train_users: int
    genre_vectors: np.ndarray         # (N, G)
    text_vectors: np.ndarray          # (N, 384) MiniLM title embeddings
    probe: dict                       # log name -> row indices of training transitions probed for values
    encoder: heads.EncoderConfig
    supervised: object                # loops.SupervisedConfig
    sqn: object                       # sqn.SQNConfig
    laac: adversarial.LAACConfig
    eval_cfg: offline.EvalConfig


@dataclass(frozen=True)
class RunJob:
    method: str
    log: str
    seed: int
    shared: Shared
    laac_overrides: tuple = ()        # (field, value) pairs replacing LAACConfig fields, e.g. (("anchor_weight", 0.1),)
    label: str | None = None          # the row's name in the results (default: the method)
    backbone: str | None = None       # replaces Shared.encoder's backbone (e.g. "sasrec")


class SuggestionsFirst:
    """A scorer: a user's suggested items first (in the given order), then ``fallback``'s ranking."""

    def __init__(self, items: np.ndarray, fallback):
        self.items, self.fallback = torch.as_tensor(items), fallback

    def score(self, users, items, lengths):
        base = self.fallback.score(users, items, lengths)                       # (B, N)
        base = base - base.max(dim=1, keepdim=True).values - 1.0                # every score < 0
        rows = self.items[users]                                                 # (B, K)
        b, j = (rows >= 0).nonzero(as_tuple=True)
        base[b, rows[b, j]] = (rows.shape[1] - j).to(base.dtype)                 # K .. 1, best first
        return base


@torch.no_grad()
def novel_top(scorer, events: EvalEvents, logged: np.ndarray, k: int = 10, batch_size: int = 512) -> np.ndarray:
    """(M, k) each event's top-k among the items its user never logged (the simulator's rule)."""
    out = []
    for start in range(0, len(events), batch_size):
        sl = slice(start, start + batch_size)
        users = torch.as_tensor(events.users[sl])
        scores = scorer.score(users, torch.as_tensor(events.items[sl]), torch.as_tensor(events.lengths[sl]))
        scores = scores.masked_fill(torch.as_tensor(logged[events.users[sl]]), -torch.inf)
        out.append(scores.topk(k, dim=1).indices.numpy())
    return np.concatenate(out)


def evaluate_policy(scorer, shared: Shared, k: int = 10) -> dict[str, float]:
    """Offline accuracy and beyond-accuracy on the test events, and the true appeal of novel top-k lists."""
    events = shared.test
    ranked = offline.rank_events(scorer, events, top_k=k, batch_size=shared.eval_cfg.batch_size,
                                 mask_history=shared.eval_cfg.mask_history)
    out = offline.accuracy_metrics(ranked.ranks, events.behaviour, (k,))
    args = dict(k=k, num_items=shared.appeal.shape[1], item_users=shared.item_users,
                num_users=shared.num_train_users)
    out |= offline.beyond_accuracy(ranked.top, events, item_vectors=shared.genre_vectors, **args)
    out[f"ild_text@{k}"] = offline.beyond_accuracy(ranked.top, events, item_vectors=shared.text_vectors,
                                                   **args)[f"ild@{k}"]
    novel = novel_top(scorer, events, shared.world_logged, k)
    out[f"appeal@{k}"] = float(shared.appeal[events.users[:, None], novel].mean())
    return out


@torch.no_grad()
def critic_values(critic, transitions, rows: np.ndarray, items: np.ndarray, appeal: np.ndarray) -> dict:
    """Critic values and true appeal of the logged actions and of the users' reference items on ``rows``."""
    batch = transitions.take(rows).to_torch()
    f = critic.q_values(batch["state"], batch["len_state"]).numpy()               # (R, N)
    users, action = batch["user"].numpy(), batch["action"].numpy()
    ref = items[users]                                                            # (R, K)
    valid = (ref >= 0) & (ref != action[:, None])
    r_idx = np.nonzero(valid)
    return {"data_f": f[np.arange(len(rows)), action], "data_p": appeal[users, action],
            "llm_f": f[r_idx[0], ref[valid]], "llm_p": appeal[users[r_idx[0]], ref[valid]]}


def run(job: RunJob) -> dict:
    """Train ``job.method`` on ``job.log`` with ``job.seed``; metrics, seconds and (critics) values."""
    from recrl_core.rl.double_q import make_pair
    from recrl_core.train import loops

    if job.method not in METHODS:
        raise ValueError(f"unknown method {job.method!r}; choose one of: {', '.join(METHODS)}")
    sh, t0 = job.shared, time.perf_counter()
    if job.log not in sh.transitions:
        raise ValueError(f"unknown log {job.log!r}; this Shared holds: {', '.join(sh.transitions)}")
    buffer = ReplayBuffer(sh.transitions[job.log])
    rng = np.random.default_rng(job.seed)
    num_items = sh.appeal.shape[1]
    enc = sh.encoder if job.backbone is None else replace(sh.encoder, backbone=job.backbone)
    out: dict = {"method": job.label or job.method, "log": job.log, "seed": job.seed, "backbone": enc.backbone}
    if job.method == "ce":
        scorer = heads.make_net(enc, num_items, job.seed)
        fit = loops.fit_supervised(scorer, buffer, sh.val, replace(sh.supervised, seed=job.seed), sh.eval_cfg, rng)
        scorer.load_state_dict(fit.best_state)
        scorer.eval()
        out["llm_only_metrics"] = evaluate_policy(SuggestionsFirst(sh.references["llm"], scorer), sh)
    elif job.method == "sqn":
        pair = make_pair(enc, num_items, job.seed, sh.sqn.lr)
        fit = loops.fit_rl(pair, "sqn", buffer, sh.val, replace(sh.sqn, seed=job.seed), sh.eval_cfg, rng)
        scorer = pair.networks[0]
        scorer.load_state_dict(fit.best_state)
        scorer.eval()
    else:
        cfg = replace(sh.laac, seed=job.seed, **dict(job.laac_overrides))
        if job.method == "laac_no_anchor":
            cfg = replace(cfg, anchor_weight=0.0)
        ref_name = REFERENCE_OF.get(job.method)
        reference = adversarial.Reference() if ref_name is None else adversarial.Reference(
            sh.references[ref_name], reference_weights(sh.references[ref_name], cfg.llm_reference))
        critic = heads.make_net(enc, num_items, 1000 + job.seed)
        actor = heads.make_net(enc, num_items, job.seed)
        learner = adversarial.LAACLearner(critic, actor, reference, cfg)
        fit = adversarial.fit_laac(learner, buffer, sh.val, sh.eval_cfg, rng)
        critic.eval()
        out["values"] = critic_values(critic, sh.transitions[job.log], sh.probe[job.log],
                                      sh.references["llm"], sh.appeal)
        actor.load_state_dict(fit.best_state)
        scorer = actor.eval()
    out["metrics"] = evaluate_policy(scorer, sh)
    out["best_step"], out["seconds"] = fit.best_step, time.perf_counter() - t0
    out["history"] = fit.history
    return out


def build_shared(task, logs: dict, references: dict, mode, *, probe_rows: int = 512,
                 encoder: heads.EncoderConfig | None = None, laac: adversarial.LAACConfig | None = None) -> Shared:
    """The arrays every run needs: transitions per log (with users), the reference lists, the
    simulator's truth, novelty and ILD inputs, and the probed training rows of every log (seeded)."""
    from recrl_core.data.transitions import TransitionConfig, build_transitions
    from recrl_core.llm.embeddings import embed_texts
    from recrl_core.rl import sqn
    from recrl_core.train import loops

    enc = encoder or heads.EncoderConfig.for_mode(mode)
    laac = laac or adversarial.LAACConfig.for_mode(mode)
    tcfg = TransitionConfig.for_mode(mode)
    pad = task.prep.encoded.pad_id
    trans = {name: adversarial.with_users(build_transitions(frame, tcfg, pad), frame["user_idx"].to_numpy())
             for name, frame in logs.items()}
    probe = {name: np.sort(np.random.default_rng(0).choice(len(t), size=min(probe_rows, len(t)), replace=False))
             for name, t in trans.items()}
    return Shared(transitions=trans, val=task.prep.val, test=task.prep.test, references=dict(references), appeal=task.appeal,
                  world_logged=task.world_logged, item_users=task.prep.item_users(),
                  num_train_users=task.prep.num_train_users, genre_vectors=task.genre_vectors,
                  text_vectors=embed_texts(task.titles), probe=probe, encoder=enc,
                  supervised=loops.SupervisedConfig.for_mode(mode), sqn=sqn.SQNConfig.for_mode(mode), laac=laac,
                  eval_cfg=offline.EvalConfig.for_mode(mode, mask_history=True))

