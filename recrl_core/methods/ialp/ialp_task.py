"""Chapter 9's task: three simulators, their item text, and the offline logs the teacher labels.

The three simulators of Ch. 6 — interest evolution and the users grounded in
MovieLens and Last.fm — each become an :class:`Environment`: the simulator (its
config and world, with the true click probabilities hidden inside), a text per
item that a language model can read, and **offline logs**:

* grounded: every simulated user's real history (the last L logged items) is a
  logged state; the state's true click probabilities are the world's, at the
  start of a session;
* interest evolution: a behaviour policy (uniformly random) is run for
  ``log_sessions`` sessions *before* any training, and states are taken from its
  steps, with the click probabilities the simulator had at that step.

The policy under training never touches a simulator offline: iALP learns from
these logs, the teacher's labels and a learned reward only.

Spec: spec-ialp-setup (book/appendix/ialp.md).
Taught in: sec-ialp-teacher
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from recrl_core.config import Mode
from recrl_core.envs import grounded, interest, policies, session

ENVIRONMENTS = ("interest", "movielens", "lastfm")
GROUNDED = {"movielens": "ml-latest-small", "lastfm": "hetrec2011-lastfm-2k"}


@dataclass(frozen=True)
class TaskConfig:
    log_sessions: int = 2_000     # interest evolution: behaviour-policy sessions logged before training (Proposed)
    seed: int = 0                 # behaviour policy and item names

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("log_sessions",)

    @classmethod
    def for_mode(cls, mode: Mode) -> "TaskConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(log_sessions=500), Mode.SMOKE: dict(log_sessions=60)}[mode]
        return replace(cls(), **sizes)


@dataclass(frozen=True)
class IALPGridConfig:
    """What Ch. 9 runs: environments, seeds, online budget, the teacher-quality dial and the ablations."""

    environments: tuple[str, ...] = ENVIRONMENTS
    num_seeds: int = 10                  # the online comparison: enough for paired t-intervals to decide
    ablation_seeds: int = 5              # the dial and the ablations (house rule: >= 3)
    online_updates: int = 3_000          # online A2C updates per run (x A2CConfig.num_envs sessions in parallel)
    dial_environment: str = "movielens"  # the teacher-quality dial and the ablations run here
    dial_noise: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)   # std of the noise on the true logit (Proposed)
    ablation_candidates: tuple[int, ...] = (5, 20)          # M of the candidate-pool ablation (spec: 10-20)
    zero_shot_sessions: int = 64         # sessions served by the zero-shot LLM policy (one prompt per step)
    eval_sessions: int = 256             # held-out sessions (fixed users and seeds) of every evaluation
    checkpoints: int = 4                 # evaluations after the one before the first update

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("num_seeds", "ablation_seeds", "online_updates", "dial_noise",
                                              "ablation_candidates", "zero_shot_sessions", "eval_sessions")

    @classmethod
    def for_mode(cls, mode: Mode) -> "IALPGridConfig":
        sizes = {Mode.FULL: {},
                 Mode.BOOK: dict(ablation_seeds=3, online_updates=300, dial_noise=(0.0, 1.0, 4.0),
                                 ablation_candidates=(5,), zero_shot_sessions=8, eval_sessions=64),
                 Mode.SMOKE: dict(num_seeds=2, ablation_seeds=1, online_updates=12, dial_noise=(0.0, 4.0), ablation_candidates=(5,),
                                  zero_shot_sessions=2, eval_sessions=8)}[mode]
        return replace(cls(), **sizes)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.num_seeds))


@dataclass
class Logs:
    """S logged states: history (items, feedback, lengths), what was seen, and the truth at that state."""

    items: np.ndarray        # (S, L) int64, right-padded with N
    feedback: np.ndarray     # (S, L) int8
    lengths: np.ndarray      # (S,) int64
    seen: np.ndarray         # (S, N) bool: items the policy may not recommend (logged or shown)
    true_probs: np.ndarray   # (S, N) float64 true click probability of every item in that state (hidden)

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, rows: np.ndarray) -> "Logs":
        return Logs(*(getattr(self, f)[rows] for f in ("items", "feedback", "lengths", "seen", "true_probs")))


@dataclass
class Environment:
    """One simulator of Ch. 9 with the text and logs the offline phase uses."""

    name: str
    cfg: object                   # InterestEnvConfig or GroundedConfig
    world: object                 # InterestWorld or GroundedWorld
    item_texts: list[str]         # (N,) what the LLM reads about each item
    item_features: np.ndarray     # (N, G) categories (topics / genres / tags)
    popularity: np.ndarray        # (N,) clicks (or users) per item in the logs
    logs: Logs
    log_pairs: pd.DataFrame       # user_idx (a user or a logged session), item_idx: positives of the logs

    @property
    def num_items(self) -> int:
        return len(self.item_texts)

    def simulator(self):
        """A fresh vectorised simulator of this environment."""
        if self.name == "interest":
            return interest.InterestVecEnv(self.cfg, self.world)
        return grounded.GroundedVecEnv(self.cfg, self.world)


def make_environment(name: str, mode: Mode, data_dir: Path, cfg: TaskConfig | None = None) -> Environment:
    """The environment ``name`` (one of :data:`ENVIRONMENTS`) at the sizes of ``mode``.

    Raises:
        ValueError: an unknown name, listing the choices.
    """
    cfg = cfg or TaskConfig.for_mode(mode)
    if name == "interest":
        return _interest(mode, cfg)
    if name in GROUNDED:
        return _grounded(name, mode, data_dir)
    raise ValueError(f"unknown environment {name!r}; choose one of: {', '.join(ENVIRONMENTS)}")


def _grounded(name: str, mode: Mode, data_dir: Path) -> Environment:
    env_cfg = grounded.GroundedConfig.for_mode(mode, dataset=GROUNDED[name])
    world = grounded.load_world(env_cfg, data_dir)
    users = np.arange(world.num_users)
    logs = Logs(items=world.initial_items.copy(), lengths=world.initial_lengths.copy(),
                feedback=(world.initial_items < world.num_items).astype(np.int8), seen=world.logged.copy(),
                true_probs=world.click_probability(users))
    pairs = np.argwhere(world.logged)
    return Environment(name, env_cfg, world, grounded_texts(name, world, data_dir), world.item_genres,
                       world.popularity.astype(np.float64), logs,
                       pd.DataFrame({"user_idx": pairs[:, 0], "item_idx": pairs[:, 1]}))


def grounded_texts(name: str, world, data_dir: Path) -> list[str]:
    """MovieLens: "Heat (1995) [Action, Crime, Thriller]"; Last.fm: "Blur (britpop, rock, indie)"."""
    if name == "movielens":
        from recrl_core.data import movielens
        from recrl_core.llm.prompts import with_genres

        text = movielens.item_text(data_dir).set_index("item")
        return [with_genres(text.loc[i, "title"], text.loc[i, "genres"]) for i in world.item_ids]
    from recrl_core.data import lastfm

    text = lastfm.item_text(data_dir, top_tags=3).set_index("item")
    return [f"{text.loc[i, 'name']} ({', '.join(text.loc[i, 'tags'])})" if i in text.index and text.loc[i, "tags"]
            else text.loc[i, "name"] if i in text.index else f"an unnamed artist (#{i})" for i in world.item_ids]


def _interest(mode: Mode, cfg: TaskConfig) -> Environment:
    env_cfg = interest.InterestEnvConfig.for_mode(mode)
    world = interest.sample_world(env_cfg)
    logs, pairs = behaviour_logs(interest.InterestVecEnv(env_cfg, world), cfg.log_sessions, cfg.seed)
    popularity = np.bincount(pairs["item_idx"].to_numpy(), minlength=env_cfg.num_items).astype(np.float64)
    return Environment("interest", env_cfg, world, interest.item_texts(world, cfg.seed), world.item_genres,
                       popularity, logs, pairs)


def behaviour_logs(vec, sessions: int, seed: int) -> tuple[Logs, pd.DataFrame]:
    """Run a uniformly random behaviour policy for ``sessions`` sessions and log every step's state.

    Returns:
        the logged states (each with the simulator's click probabilities at that moment)
        and the clicked (session, item) pairs, the logs' positives.
    """
    rng = np.random.default_rng(seed)
    vec.reset(session.episode_seeds(seed, sessions))
    behaviour, parts, clicks = policies.RandomPolicy(), [], []
    for _ in range(vec.max_turn):
        if vec.s.done.all():
            break
        active = ~vec.s.done
        obs = vec.observation()
        parts.append((obs, vec.seen.copy(), vec.click_probabilities(), active))
        actions = behaviour.act(vec, rng)
        _, reward, *_ = vec.step(actions)
        clicked = np.flatnonzero(active & (reward > 0))
        clicks.append(pd.DataFrame({"user_idx": clicked, "item_idx": actions[clicked]}))
    logs = Logs(*(np.concatenate([p[0][k][p[3]] for p in parts]) for k in ("items", "feedback", "length")),
                seen=np.concatenate([p[1][p[3]] for p in parts]),
                true_probs=np.concatenate([p[2][p[3]] for p in parts]))
    return logs, pd.concat(clicks, ignore_index=True)
