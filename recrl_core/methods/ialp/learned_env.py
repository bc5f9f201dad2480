"""A user model learned offline: logged start states, the learned reward and a reconstructed transition.

iALP pre-trains its actor-critic **without touching the simulator**. Its environment
is made of the logs and the reward model only:

* a session starts from a logged state (history, clicks, what the user has seen);
* recommending item a earns :math:`r_t = \\sigma(R_\\psi(s_t, a))`, the learned
  probability that the user takes it;
* the user "consumes" the item when :math:`r_t > \\tau`: :math:`s_{t+1} = s_t \\oplus a`
  (it enters the history as a click); otherwise :math:`s_{t+1} = s_t`, apart from
  the item now being seen (it is never recommended twice);
* a session lasts ``horizon`` steps. The learned model knows no quit rule and no
  boredom: what the real simulator adds there is what online adaptation must learn.

The class has the interface of the vectorised simulators (``reset``, ``step``,
``seen``, ``users``), so Ch. 6's ``train.online.fit_a2c`` trains on it unchanged.

Spec: spec-ialp-losses (book/appendix/ialp.md), step 3 and the transition rule.
Taught in: sec-ialp-online
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from recrl_core.config import Mode
from recrl_core.envs import session
from recrl_core.methods.ialp.ialp_task import Logs


@dataclass(frozen=True)
class LearnedEnvConfig:
    horizon: int = 8             # steps per offline session, about a real session's length (Proposed)
    threshold: float = 0.5       # tau: the user consumes the item when sigma(R) > tau (Proposed; spec-ialp-losses)
    pretrain_updates: int = 2_000  # A2C updates of offline pre-training (Proposed)
    pretrain_entropy: float = 0.1  # beta_H while pre-training: a broad policy is a better start online (Proposed;
    #                                the online A2C keeps A2CConfig.entropy_coef; sec-ialp-ablations measures it)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("pretrain_updates",)

    def __post_init__(self):
        if self.horizon < 1 or not 0.0 < self.threshold < 1.0:
            raise ValueError(f"need horizon >= 1 and 0 < threshold < 1, got {self.horizon}, {self.threshold}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LearnedEnvConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(pretrain_updates=400), Mode.SMOKE: dict(pretrain_updates=10)}[mode]
        return replace(cls(), **sizes)


class LabelReward:
    """The raw teacher without a reward model: 1 for a candidate the teacher chose at the session's start state.

    ``rewards(..., starts, actions)`` looks the action up among the labelled candidates
    of the start state; any other item earns 0 (the ablation "no reward model"). Only
    labelled states have labels, so sessions must start from them: build the learned
    environment on ``logs.take(rows)``, whose state j is labelled state j here.
    """

    def __init__(self, pools: np.ndarray, labels: np.ndarray):
        self.pools, self.labels = pools, labels                                   # (S, M), (S, M)

    def rewards(self, items, feedback, lengths, starts: np.ndarray, actions: np.ndarray) -> np.ndarray:
        if len(starts) and starts.max() >= len(self.pools):
            raise ValueError(f"start state {starts.max()} has no labels (only {len(self.pools)} states are labelled): "
                             "start sessions from the labelled states only, logs.take(taught.rows)")
        hit = self.pools[starts] == actions[:, None]                              # (A, M)
        return (hit * self.labels[starts]).sum(axis=1).astype(np.float64)


class LearnedUserEnv(session.VecSessions):
    """B offline sessions on the learned user model; a reset draws a start state uniformly from the logs.

    Args:
        logs: the S logged states sessions start from (``users`` index them).
        reward: anything with ``rewards(items, feedback, lengths, starts, actions) -> (A,)`` in [0, 1]:
            a :class:`~recrl_core.methods.ialp.reward_model.RewardModel` or a :class:`LabelReward`.
        cfg: horizon and threshold.
    """

    num_uniforms = 1

    def __init__(self, logs: Logs, reward, cfg: LearnedEnvConfig):
        self.logs, self.reward, self.cfg = logs, reward, cfg
        self.num_items, self.num_users, self.max_turn = logs.seen.shape[1], len(logs), cfg.horizon
        self.rngs = []

    def _allocate(self, batch: int) -> None:
        self.s = session.new_session(batch, self.num_items, 1, self.logs.items.shape[1], 1, self.max_turn, 1)

    def _start(self, rows: np.ndarray) -> None:
        start = self.users[rows]
        self.s.items[rows], self.s.feedback[rows] = self.logs.items[start], self.logs.feedback[start]
        self.s.length[rows], self.s.seen[rows] = self.logs.lengths[start], self.logs.seen[start]

    def step(self, actions):
        """One recommendation per row: reward sigma(R(s, a)), consumed items join the history.

        Returns:
            ``(obs, reward (B,), terminated (B,), truncated (B,), info)``; sessions never
            terminate (no quit model), they are truncated at the horizon; info holds
            ``click_prob`` (the reward), ``consumed`` and ``active`` (B,) arrays.
        """
        s, actions = self.s, np.asarray(actions, dtype=np.int64)
        active = ~s.done
        rows = np.flatnonzero(active)
        act = actions[rows]
        p = self.reward.rewards(s.items[rows], s.feedback[rows], s.length[rows], self.users[rows], act)
        consumed = p > self.cfg.threshold
        session.push_history(s, rows[consumed], act[consumed], np.ones(int(consumed.sum()), dtype=bool))
        s.seen[rows, act] = True
        s.step[rows] += 1
        s.truncated[rows] = s.step[rows] >= self.max_turn
        s.done[rows] = s.truncated[rows]
        reward, info = np.zeros(len(actions)), {"click_prob": np.zeros(len(actions)),
                                                "consumed": np.zeros(len(actions), bool), "active": active}
        reward[rows] = info["click_prob"][rows] = p
        info["consumed"][rows] = consumed
        return session.observe(s), reward, s.terminated.copy(), s.truncated.copy(), info


def pretrain(logs: Logs, reward, net, a2c_cfg, cfg: LearnedEnvConfig, rng: np.random.Generator):
    """iALP: ``train.online.fit_a2c`` on the learned user model, with the pre-training entropy bonus.

    ``net`` (an ``rl.actor_critic.ActorCritic``, seeded by the caller) is trained in place for
    ``cfg.pretrain_updates`` updates of ``a2c_cfg.num_envs`` offline sessions; returns the A2C result.
    Taught in: sec-ialp-online
    """
    from recrl_core.train import online

    offline = replace(a2c_cfg, updates=cfg.pretrain_updates, entropy_coef=cfg.pretrain_entropy)
    return online.fit_a2c(LearnedUserEnv(logs, reward, cfg), net, offline, rng)
