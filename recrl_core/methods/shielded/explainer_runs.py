"""Chapter 7's runs: one (variant, seed) = a fresh explainer, trained with PPO and evaluated on the CTR users.

The main run, its seeds and the ablation rows share everything but their one change:
the task (users, recommended items, ranker contexts, CTR users), the store of prompt
trunks, and the evaluation — every CTR user's explanation sampled at a fixed seed,
scored by the composite reward, clicked by the grounded reader with the same click
uniforms (spec-shielded-reader). The untrained explainer is the same function for every
seed (zero-initialised LoRA B and soft-prompt output), so it is evaluated once and is the
base of every relative CTR.

:func:`run` trains and evaluates one :class:`ExplainerJob` (picklable, for
``train.parallel.map_jobs``); each worker process builds the task once. The prompts'
frozen trunks are computed once per cache (``<cache>/prompt_trunks``) and loaded by every
later process. Results are cached (``<cache>/explainer_runs``), so the chapter's later
sections pool seeds without training them again.

Spec: spec-shielded-ppo, spec-shielded-trunk.
Taught in: sec-shielded-ppo, sec-shielded-seeds, sec-shielded-ablations
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from recrl_core.caching import TensorCache, make_key
from recrl_core.config import Mode
from recrl_core.data import prepare
from recrl_core.envs import grounded
from recrl_core.llm import logprobs, lora, models, soft_prompt, trunk_rollout
from recrl_core.methods.shielded import click_model, explanation_reward, explanation_task
from recrl_core.rl import kl
from recrl_core.train import ppo_loop

EVAL_SEED = 1234        # sampling seed of the CTR users' explanations (chunk c uses EVAL_SEED + its offset)
EVAL_CHUNK = 64         # CTR users per sampling call (decoding is memory-bound: bigger batches are cheaper per row)


@dataclass
class ExplainerTask:
    """Everything a run reads, built once per process (:func:`build_task`)."""
    mode: Mode
    lm_name: str
    xcfg: explanation_task.ExplainerConfig
    reward_cfg: explanation_reward.RewardConfig
    data: prepare.Prepared
    ranker: explanation_task.Ranker
    frame: pd.DataFrame               # one row per user (explanation_task.build_examples)
    histories: tuple                  # (items (U, T), lengths (U,))
    contexts: torch.Tensor            # (U, C) ranker context per row of `frame`
    train_rows: np.ndarray            # rows of `frame` whose prompts PPO samples
    eval_rows: np.ndarray             # the CTR users
    reader: click_model.ExplanationClickModel
    trunks: trunk_rollout.PromptTrunks | None = None   # shared by every explainer of this process


@dataclass
class Explainer:
    policy: logprobs.PolicyWithValue
    tokenizer: object
    prompts: list[str]                # one per row of `frame`, with the soft-prompt marker
    reward: explanation_reward.CompositeReward


def build_task(mode: Mode, data_dir, lm_name: str | None = None, seed: int = 0) -> ExplainerTask:
    """The Ch. 7 task in ``mode``: data, the cached SASRec ranker, examples, contexts and the reader."""
    from recrl_core.methods.shielded import shields

    xcfg = explanation_task.ExplainerConfig.for_mode(mode)
    data = prepare.prepare(prepare.DataConfig.for_mode(mode, genres=explanation_task.GENRES), data_dir)
    ranker = explanation_task.fit_ranker(data, mode, seed=seed)
    world = grounded.load_world(grounded.GroundedConfig.for_mode(mode), data_dir)
    frame, histories = explanation_task.build_examples(data, ranker.model, world, Path(data_dir), xcfg)
    shields.hard_shield(ranker.model)
    contexts = explanation_task.contexts_for(ranker.model, histories, frame)
    return ExplainerTask(mode, lm_name or models.lm_for_mode(mode), xcfg, explanation_reward.RewardConfig.for_mode(mode),
                data, ranker, frame, histories, contexts, np.flatnonzero(frame["split"] == "train"),
                np.flatnonzero(frame["split"] == "eval"),
                click_model.ExplanationClickModel(world, click_model.ClickConfig.for_mode(mode)))


def make_explainer(task: ExplainerTask, lora_cfg: lora.LoRAConfig, seed: int,
                   reward_cfg: explanation_reward.RewardConfig | None = None) -> Explainer:
    """A fresh LM with LoRA (top ``adapt_layers`` layers), value head and soft prompt entering where LoRA starts."""
    lm, tok = models.load_lm(task.lm_name)
    top_cfg, split = lora.on_top_layers(lora_cfg, lm.config.num_hidden_layers, task.xcfg.adapt_layers)
    policy = ppo_loop.make_policy(lm, top_cfg, seed=seed)
    soft = soft_prompt.add_soft_prompt(policy.lm, tok, task.contexts.shape[1], task.xcfg.soft_tokens,
                                       task.xcfg.adapter_hidden, seed=seed, layer=split)
    prompts = explanation_task.prompts_for(task.frame, tok, soft.marker())
    reward = explanation_reward.CompositeReward(reward_cfg or task.reward_cfg,
                                                explanation_task.reward_contexts(task.frame, prompts), policy.lm, tok)
    if split and (task.trunks is None or task.trunks.split != split):
        task.trunks = prompt_trunks(task, policy.lm, tok, prompts, split)
    return Explainer(policy, tok, prompts, reward)


def prompt_trunks(task: ExplainerTask, lm, tok, prompts: list[str], split: int) -> trunk_rollout.PromptTrunks:
    """The frozen trunks of every training and CTR user's prompt, from ``<cache>/prompt_trunks`` or computed.

    Computed once per cache in one canonical call (every prompt, longest first), so each
    worker process and each later section loads the same tensors instead of computing them.
    """
    trunks = trunk_rollout.PromptTrunks(tok, split)
    rows = np.concatenate([task.train_rows, task.eval_rows])
    wanted = [prompts[i] for i in rows]
    key = make_key(lm=task.lm_name, split=split, prompts=hashlib.sha256("\0".join(wanted).encode()).hexdigest())
    store = TensorCache("prompt_trunks")
    if not trunks.load(store, key):
        trunks.fill(lm, wanted)
        trunks.save(store, key)
    return trunks


def evaluate(task: ExplainerTask, ex: Explainer, ppo_cfg) -> dict:
    """The CTR users' explanations: texts, reward terms, clicks (U, draws) and drift to the reference."""
    rows, trunks = task.eval_rows, task.trunks if soft_prompt.find(ex.policy.lm).layer else None
    got = ppo_loop.sample_replies(ex.policy.lm, ex.tokenizer, [ex.prompts[i] for i in rows], ppo_cfg, EVAL_SEED,
                                  trunks, task.contexts[rows], chunk=EVAL_CHUNK)
    meta, m = task.frame.iloc[rows], got.mask
    return {"texts": got.texts,
            "terms": task_terms(ex, got.texts, rows),
            "clicks": task.reader.clicks(meta["world_user"].to_numpy(), meta["world_item"].to_numpy(), got.texts),
            "kl_token": float((kl.kl_k1(got.logprobs, got.ref_logprobs) * m).sum() / m.sum()),
            "seq_logprob_diff": float((got.logprobs - got.ref_logprobs).mul(m).sum(1).mean()),
            "seq_logprob": float(got.logprobs.mul(m).sum(1).mean())}


def task_terms(ex: Explainer, texts: list[str], rows: np.ndarray) -> pd.DataFrame:
    """The composite reward's terms of ``texts`` written for ``rows`` (the main run's weights)."""
    return ex.reward.terms(texts, [ex.prompts[i] for i in rows])


def train(task: ExplainerTask, ex: Explainer, ppo_cfg, reward=None, callback=None, progress: bool = False) -> pd.DataFrame:
    """``ppo_cfg.updates`` PPO updates on the training users' prompts; the history as a table."""
    history = ppo_loop.fit_ppo(ex.policy, ex.tokenizer, [ex.prompts[i] for i in task.train_rows],
                               reward or ex.reward, ppo_cfg, contexts=task.contexts[task.train_rows],
                               callback=callback, progress=progress, trunks=task.trunks)
    return pd.DataFrame(history)


# ---------------------------------------------------------------- jobs, for map_jobs and the cache

@dataclass(frozen=True)
class ExplainerJob:
    """One row of Chapter 7's tables: ``variant`` is "untrained", "main" or an ablation name.

    ``updates`` overrides the chapter's number of PPO updates (the ablation rows' budget).
    """
    variant: str
    seed: int
    mode: str
    data_dir: str
    updates: int | None = None


@functools.lru_cache(maxsize=2)
def _task(mode: str, data_dir: str) -> ExplainerTask:
    return build_task(Mode(mode), data_dir)


RUN_VERSION = 3          # bump when code that decides a run's result changes (sampling, PPO, reward, reader)


def job_key(task: ExplainerTask, job: ExplainerJob) -> str:
    """Cache key of a run: everything that decides its result (configs, data size, LM, :data:`RUN_VERSION`)."""
    return make_key(variant=job.variant, seed=job.seed, updates=job.updates, mode=task.mode.value, lm=task.lm_name,
                    xcfg=dataclasses.asdict(task.xcfg), reward=dataclasses.asdict(task.reward_cfg),
                    eval_seed=EVAL_SEED, eval_chunk=EVAL_CHUNK, rows=len(task.frame), version=RUN_VERSION)


def configs(task: ExplainerTask, job: ExplainerJob):
    """(PPO, LoRA, reward) configs of a job: the chapter's run with its ablation and budget applied."""
    ppo_cfg = dataclasses.replace(task.xcfg.ppo, seed=job.seed)
    if job.updates is not None:
        ppo_cfg = dataclasses.replace(ppo_cfg, updates=job.updates)
    name = "main" if job.variant == "untrained" else job.variant
    return explanation_task.ablation(name, ppo_cfg, lora.LoRAConfig(), task.reward_cfg)


def run_in_process(job: ExplainerJob, task: ExplainerTask, callback=None, progress: bool = False) -> tuple[dict, Explainer]:
    """Train (unless "untrained") and evaluate one explainer here; cache the result; return it and the explainer."""
    start = time.perf_counter()
    ppo_cfg, lora_cfg, reward_cfg = configs(task, job)
    ex = make_explainer(task, lora_cfg, job.seed)                        # scored with the main weights
    history = []
    if job.variant != "untrained":
        trained_on = ex.reward if reward_cfg == task.reward_cfg else explanation_reward.CompositeReward(
            reward_cfg, explanation_task.reward_contexts(task.frame, ex.prompts), ex.policy.lm, ex.tokenizer)
        history = train(task, ex, ppo_cfg, reward=trained_on, callback=callback, progress=progress).to_dict("records")
    ev = evaluate(task, ex, ppo_cfg)
    meta = {"variant": job.variant, "seed": job.seed, "updates": ppo_cfg.updates, "seconds": time.perf_counter() - start,
            "history": history, "texts": ev["texts"], "terms": {k: float(v) for k, v in ev["terms"].mean().items()},
            **{k: ev[k] for k in ("kl_token", "seq_logprob_diff", "seq_logprob")}}
    TensorCache("explainer_runs").save(job_key(task, job), {"clicks": ev["clicks"].astype(np.uint8)}, meta)
    return meta | {"clicks": ev["clicks"], "cached": False}, ex


def run(job: ExplainerJob, task: ExplainerTask | None = None) -> dict:
    """One job's result, from the cache (``<cache>/explainer_runs``) or by :func:`run_in_process`.

    Returns: variant, seed, updates, seconds, history (one dict per update; empty when
    untrained), texts, clicks (U, draws) bool, terms (mean of every reward term), kl_token,
    seq_logprob_diff, seq_logprob, cached.
    """
    task = task or _task(job.mode, job.data_dir)
    stored = TensorCache("explainer_runs").load(job_key(task, job))
    if stored is not None:
        tensors, meta = stored
        return meta | {"clicks": tensors["clicks"].numpy().astype(bool), "cached": True}
    return run_in_process(job, task)[0]


def pooled_relative_ctr(runs: list[dict], base: dict, seed: int = 0) -> dict:
    """Relative CTR of several seeds' explainers against the untrained one, users resampled.

    Every seed's click draws of a user stay in that user's row (U, seeds x draws), paired
    with the untrained explainer's draws repeated; the bootstrap resamples users
    (``click_model.relative_ctr``).
    """
    new = np.concatenate([r["clicks"] for r in runs], axis=1)
    return click_model.relative_ctr(new, np.tile(base["clicks"], (1, len(runs))), seed=seed)
