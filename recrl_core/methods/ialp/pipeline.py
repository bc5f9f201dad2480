"""Chapter 9's pipeline in named steps — teacher, reward model, pre-training — cached where it is expensive.

Each step is keyed by everything that produced it (environment and its config, the
labelled states and labels, the configs, the seed), so the three sections of Ch. 9
share one computation, and a changed input makes a new entry:

* :func:`teach` — candidate pools for the labelled states and a labeller's scores and
  labels (the LLM's are cached by ``llm_teacher``); :func:`narrow` — the same lesson on
  fewer candidates per state, without a new LLM call;
* :func:`reward_model_for` — :math:`R_\\psi` fitted to the labels (``caching.TensorCache``);
* :func:`pretrained` — iALP: an actor-critic pre-trained on the learned user model, and
  :func:`ialp_policy`, the two steps for one seed;
* :func:`online` — one online run (``adaptation.fit_mixture``) from given networks, on the
  held-out evaluation of :func:`evaluation`; keyed by the networks' exact weights, so the
  sections that run the same method on the same seed share one run.
* :func:`pretrain_lessons`, :func:`compare_methods` — one seed of the chapter's pre-training
  and of its online comparison (:data:`METHODS`), jobs for ``train.parallel.map_jobs``.

Spec: spec-ialp-losses (book/appendix/ialp.md).
Taught in: sec-ialp-teacher, sec-ialp-online
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import torch

from recrl_core.caching import TensorCache, array_digest, make_key, tensor_digest
from recrl_core.envs import session
from recrl_core.methods.ialp import adaptation, labels, learned_env, llm_teacher, reward_model
from recrl_core.methods.ialp.ialp_task import Environment, Logs
from recrl_core.rl.actor_critic import ActorCritic


@dataclass
class Taught:
    """One labeller's lesson on one environment."""

    rows: np.ndarray      # (S,) labelled logged states
    pools: np.ndarray     # (S, M) candidates
    scores: np.ndarray    # (S, M) the labeller's scores
    labels: np.ndarray    # (S, M) 0/1, its top_k choices
    truth: np.ndarray     # (S, M) the hidden true click probabilities of the candidates
    stats: dict           # LLM only: states scored / from cache, counts of odd inputs, seconds


def teach(env: Environment, labeller: str, cfg: labels.LabelConfig, *, lm=None, tokenizer=None,
          lm_name: str = "", knn=None) -> Taught:
    """Pools for the labelled states (seeded by ``cfg.seed``) and ``labeller``'s scores of them."""
    rows = labels.label_rows(env, cfg)
    knn = knn if knn is not None else labels.base_recommender(env)
    base = labels.base_scores(knn, env.logs.items[rows], env.logs.lengths[rows])
    pools = labels.candidate_pools(env.logs.seen[rows], env.popularity, base, cfg, np.random.default_rng(cfg.seed))
    truth = np.take_along_axis(env.logs.true_probs[rows], pools, axis=1)
    stats = {}
    if labeller == "llm":
        if lm is None:
            raise ValueError("the llm labeller needs lm, tokenizer and lm_name (llm.models.load_lm)")
        histories = (env.logs.items[rows], env.logs.feedback[rows], env.logs.lengths[rows])
        scores, stats = llm_teacher.llm_scores(lm, tokenizer, lm_name, env.item_texts, histories, pools, cfg)
    else:
        scores = labels.heuristic_scores(labeller, env, rows, pools, cfg, np.random.default_rng(cfg.seed + 1))
    return Taught(rows, pools, scores, labels.labels_from_scores(scores, cfg.top_k), truth, stats)


def narrow(taught: Taught, m: int, top_k: int, seed: int) -> Taught:
    """The same lesson with ``m`` of each state's candidates (a seeded random subset), relabelled.

    Each candidate's LLM score depends only on the prompt and the candidate (the token
    tree scores branches independently), so a smaller pool needs no new LLM call: the
    teacher's choice is the best of the ``m`` kept. (A larger pool needs ``teach`` with
    a larger ``LabelConfig.candidates``.)

    Raises:
        ValueError: ``m`` not smaller than the pool, or ``top_k`` not below ``m``.
    """
    pool = taught.pools.shape[1]
    if not 1 <= top_k < m < pool:
        raise ValueError(f"need top_k < m < {pool} (the pool taught), got m={m}, top_k={top_k}")
    rng = np.random.default_rng(seed)
    keep = np.sort(np.argsort(rng.random(taught.pools.shape), axis=1)[:, :m], axis=1)       # (S, m)
    scores = np.take_along_axis(taught.scores, keep, 1)
    return Taught(taught.rows, np.take_along_axis(taught.pools, keep, 1), scores,
                  labels.labels_from_scores(scores, top_k), np.take_along_axis(taught.truth, keep, 1), taught.stats)


def _env_key(env: Environment) -> dict:
    return {"env": env.name, "env_cfg": asdict(env.cfg), "items": env.num_items, "logs": len(env.logs)}


def lesson_key(taught: Taught, cfg: reward_model.RewardModelConfig) -> str:
    """Names a reward model by what it learned from: the labelled states, candidates, labels and config."""
    return make_key(lesson=array_digest(taught.rows, taught.pools, taught.labels), cfg=asdict(cfg))


def reward_model_for(env: Environment, taught: Taught, cfg: reward_model.RewardModelConfig):
    """``reward_model.fit_reward_model`` once per (environment, labels, config); later calls load it.

    Returns:
        ``(model, log, held)`` as ``fit_reward_model``.
    """
    key = make_key(kind="reward-model", **_env_key(env), lesson=lesson_key(taught, cfg))
    store = TensorCache("ialp-reward-models")
    model = reward_model.RewardModel(env.num_items, cfg, env.item_features)
    stored = store.load(key)
    if stored is not None:
        tensors, meta = stored
        model.load_state_dict({k: v for k, v in tensors.items() if k != "held"})
        return model.eval(), pd.DataFrame(json.loads(meta["log"])), tensors["held"].numpy().astype(bool)
    model, log, held = reward_model.fit_reward_model(env.logs, taught.rows, taught.pools, taught.labels,
                                                     env.num_items, cfg, env.item_features)
    store.save(key, model.state_dict() | {"held": torch.as_tensor(held.astype(np.uint8))},
               meta={"log": log.to_json(orient="records", double_precision=15)})
    return model, log, held


def new_policy(env: Environment, hidden_size: int, encoder: str, seed: int) -> ActorCritic:
    """A fresh actor-critic for ``env``, its initial weights fixed by ``seed``."""
    torch.manual_seed(seed)
    return ActorCritic(env.num_items, hidden_size, encoder, item_features=env.item_features)


def pretrained(env: Environment, reward, a2c_cfg, cfg: learned_env.LearnedEnvConfig, seed: int,
               reward_key: str, logs: Logs | None = None) -> tuple[ActorCritic, pd.DataFrame]:
    """iALP: a policy pre-trained offline on the learned user model (``learned_env.pretrain``), cached.

    ``reward_key`` names the reward (e.g. the labels' digest and the reward model's config);
    ``logs`` are the states sessions start from (default: all of ``env.logs``; a
    ``learned_env.LabelReward`` needs the labelled ones, ``env.logs.take(taught.rows)``).
    Returns the network and the offline sessions (episode, update, return, length, left).
    """
    logs = env.logs if logs is None else logs
    key = make_key(kind="ialp", **_env_key(env), a2c=asdict(a2c_cfg), learned=asdict(cfg), seed=seed,
                   reward=reward_key, starts=array_digest(logs.items, logs.lengths, logs.seen))
    store = TensorCache("ialp-pretrained")
    net = new_policy(env, a2c_cfg.hidden_size, a2c_cfg.encoder, seed)
    stored = store.load(key)
    if stored is not None:
        net.load_state_dict(stored[0])
        return net, _frame(stored[1]["episodes"])
    result = learned_env.pretrain(logs, reward, net, a2c_cfg, cfg, np.random.default_rng(seed))
    store.save(key, net.state_dict(), meta={"episodes": _frame_json(result.episodes)})
    return net, result.episodes


def ialp_policy(env: Environment, taught: Taught, rm_cfg: reward_model.RewardModelConfig, a2c_cfg,
                learned_cfg: learned_env.LearnedEnvConfig, seed: int, *,
                raw_labels: bool = False) -> tuple[ActorCritic, pd.DataFrame]:
    """iALP for one seed: a reward model fitted to the lesson, then pre-training on it (both cached).

    The seed is the whole pipeline's after the labels: the reward model's initialisation and
    held-out split (``rm_cfg.seed``), the policy's initialisation and its offline sessions.
    With ``raw_labels`` there is no reward model: the labels are the reward
    (``learned_env.LabelReward``) and sessions start from the labelled states.
    """
    if raw_labels:
        reward, logs = learned_env.LabelReward(taught.pools, taught.labels), env.logs.take(taught.rows)
        key = lesson_key(taught, rm_cfg) + ":raw-labels"
    else:
        cfg = replace(rm_cfg, seed=seed)
        reward, logs, key = reward_model_for(env, taught, cfg)[0], None, lesson_key(taught, cfg)
    return pretrained(env, reward, a2c_cfg, learned_cfg, seed, key, logs=logs)


METHODS = ("A2C from scratch", "iALP frozen", "A-iALP ft", "A-iALP ap", "A-iALP ft, random labels")


@dataclass(frozen=True)
class OnlineJob:
    """Everything one seed of Ch. 9's online comparison needs (picklable, for ``train.parallel``)."""

    env: Environment
    taught: Taught             # the LLM's lesson
    taught_random: Taught      # the random-label control
    rm_cfg: reward_model.RewardModelConfig
    a2c_cfg: object            # train.online.A2CConfig with the online updates
    learned_cfg: learned_env.LearnedEnvConfig
    adapt_cfg: adaptation.AdaptConfig
    seed: int
    eval_sessions: int
    checkpoints: int


def pretrain_lessons(job: OnlineJob) -> dict[str, pd.DataFrame]:
    """One seed's iALP pre-training on both lessons (cached); the offline sessions per lesson."""
    return {lesson: ialp_policy(job.env, taught, job.rm_cfg, job.a2c_cfg, job.learned_cfg, job.seed)[1]
            for lesson, taught in (("llm", job.taught), ("random", job.taught_random))}


def compare_methods(job: OnlineJob) -> dict[str, adaptation.MixtureResult]:
    """One seed: iALP on both lessons, then the five online runs of :data:`METHODS` (all cached).

    Each method is one setting of ``fit_mixture``'s knob, the share w of sessions served by
    the frozen pre-trained policy: A2C from scratch (w = 0, a fresh network), iALP frozen
    (w = 1, no learning), A-iALP ft (w = 0 from the pre-trained network, its critic as
    ``adapt_cfg.ft_critic``), A-iALP ap (adaptive w, the online policy from scratch) and
    A-iALP ft on the random lesson. The fresh network is the same for every method of a seed.
    """
    env, seed, adapt = job.env, job.seed, job.adapt_cfg
    ev = evaluation(env, job.eval_sessions, job.checkpoints)
    pre = ialp_policy(env, job.taught, job.rm_cfg, job.a2c_cfg, job.learned_cfg, seed)[0]
    pre_random = ialp_policy(env, job.taught_random, job.rm_cfg, job.a2c_cfg, job.learned_cfg, seed)[0]

    def fixed(w: float) -> adaptation.AdaptConfig:
        return replace(adapt, rule="fixed", fixed_w=w)

    def scratch() -> ActorCritic:
        return new_policy(env, job.a2c_cfg.hidden_size, job.a2c_cfg.encoder, 1000 + seed)

    specs = {"A2C from scratch": (None, scratch(), fixed(0.0), True),
             "iALP frozen": (pre, None, fixed(1.0), False),
             "A-iALP ft": (None, adaptation.fine_tune_start(pre, adapt), fixed(0.0), True),
             "A-iALP ap": (pre, scratch(), adapt, True),
             "A-iALP ft, random labels": (None, adaptation.fine_tune_start(pre_random, adapt), fixed(0.0), True)}
    return {method: online(env, p, o, job.a2c_cfg, cfg, seed, ev, learn=learn)
            for method, (p, o, cfg, learn) in specs.items()}


def evaluation(env: Environment, sessions: int, checkpoints: int, seed: int = 321) -> adaptation.Evaluation:
    """Held-out sessions for every online run on ``env``: ``sessions`` fixed users and episode seeds."""
    simulator = env.simulator()
    users = np.random.default_rng(seed).integers(simulator.num_users, size=sessions)
    return adaptation.Evaluation(simulator, session.episode_seeds(seed, sessions), users=users, checkpoints=checkpoints)


def online(env: Environment, pre_net: ActorCritic | None, on_net: ActorCritic | None, a2c_cfg,
           adapt: adaptation.AdaptConfig, seed: int, ev: adaptation.Evaluation, *,
           learn: bool = True) -> adaptation.MixtureResult:
    """``adaptation.fit_mixture`` on a fresh simulator of ``env``, cached; the networks are not modified.

    ``on_net`` is copied before it learns. The key holds the exact weights of both networks,
    the configs, the seed and the evaluation sessions, so an equal run is read back, never re-run.
    """
    import copy

    key = make_key(kind="online", **_env_key(env), pre=_weights(pre_net), on=_weights(on_net), a2c=asdict(a2c_cfg),
                   adapt=asdict(adapt), seed=seed, learn=learn,
                   evaluation={"seeds": list(ev.seeds), "checkpoints": ev.checkpoints,
                               "users": None if ev.users is None else array_digest(ev.users)})
    store = TensorCache("ialp-online")
    stored = store.load(key)
    if stored is not None:
        tensors, meta = stored
        frames = {name: _frame(meta[name]) for name in ("episodes", "losses", "evaluations")}
        return adaptation.MixtureResult(frames["episodes"], frames["losses"], tensors["item_counts"].numpy(),
                                        frames["evaluations"])
    on_net = copy.deepcopy(on_net) if on_net is not None else None
    result = adaptation.fit_mixture(env.simulator(), pre_net, on_net, a2c_cfg, adapt, np.random.default_rng(seed),
                                    learn=learn, evaluation=ev)
    store.save(key, {"item_counts": torch.as_tensor(result.item_counts)},
               meta={name: _frame_json(getattr(result, name)) for name in ("episodes", "losses", "evaluations")})
    return result


def _frame_json(frame: pd.DataFrame) -> str:
    """A frame as JSON that keeps its columns when it has no rows (a run that finished no session)."""
    return json.dumps({"columns": [str(c) for c in frame.columns],
                       "records": json.loads(frame.to_json(orient="records", double_precision=15))})


def _frame(text: str) -> pd.DataFrame:
    """The frame of :func:`_frame_json` (or a plain list of records, as older cache entries hold)."""
    data = json.loads(text)
    if isinstance(data, dict):
        return pd.DataFrame(data["records"], columns=data["columns"])
    return pd.DataFrame(data)


def _weights(net: ActorCritic | None) -> str | None:
    return None if net is None else tensor_digest(net.state_dict())
