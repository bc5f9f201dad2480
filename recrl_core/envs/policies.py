"""Baseline policies for the simulators, and rollouts that measure any policy.

A policy has one method, ``act(env, rng) -> (B,) item ids``, reading the
vectorised environment's current observation state: ``env.seen`` (items shown
this session, or logged), ``env.users`` and, for the oracle only, the hidden
``env.click_probabilities()``. None of the baselines repeats an item.

Taught in: sec-interest-evolution, sec-grounded-users
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class RandomPolicy:
    """Uniformly random among the items each user has not seen."""

    def act(self, env, rng: np.random.Generator) -> np.ndarray:
        rows = np.arange(len(env.users))
        actions = rng.integers(env.num_items, size=len(rows))
        bad = env.seen[rows, actions]
        while bad.any():                                                       # redraw seen ones
            actions[bad] = rng.integers(env.num_items, size=int(bad.sum()))
            bad = env.seen[rows, actions]
        return actions


class GreedyPolicy:
    """The highest-scoring unseen item: most-popular with (N,) scores, greedy-MF with (U, N).

    Args:
        scores: (N,) one ranking for everybody, or (U, N) one per user (indexed by ``env.users``).
    Ties go to the lower item id.
    """

    def __init__(self, scores: np.ndarray):
        self.scores = np.asarray(scores, dtype=np.float64)

    def act(self, env, rng: np.random.Generator) -> np.ndarray:
        scores = self.scores[env.users] if self.scores.ndim == 2 else self.scores[None, :]
        return np.where(env.seen, -np.inf, scores).argmax(axis=1)             # (B,)


class OraclePolicy:
    """Myopic oracle: the unseen item with the highest *true* click probability right now.

    It reads the simulator's hidden state, so no real recommender can run it; it
    bounds what a greedy, one-step policy could achieve.
    """

    def act(self, env, rng: np.random.Generator) -> np.ndarray:
        return np.where(env.seen, -1.0, env.click_probabilities()).argmax(axis=1)


@dataclass
class Sessions:
    """B finished sessions; (B, T) arrays are padded after each session's end."""

    users: np.ndarray         # (B,)
    actions: np.ndarray       # (B, T) item ids, -1 after the end
    rewards: np.ndarray       # (B, T) clicks
    click_probs: np.ndarray   # (B, T) true click probability of each recommendation
    terminated: np.ndarray    # (B,) the user left (quit rule or budget)
    truncated: np.ndarray     # (B,) max_turn reached

    def summary(self) -> pd.DataFrame:
        """One row per session: user, return (clicks), expected return (sum of p), length, ctr, left."""
        length = (self.actions >= 0).sum(axis=1)
        clicks = self.rewards.sum(axis=1)
        return pd.DataFrame({"user": self.users, "return": clicks,
                             "expected_return": self.click_probs.sum(axis=1), "length": length,
                             "ctr": clicks / np.maximum(length, 1), "left": self.terminated})


def rollout(env, policy, seeds, rng: np.random.Generator, users=None) -> Sessions:
    """Run one session per seed to its end with ``policy``.

    Args:
        env: a vectorised simulator (``InterestVecEnv`` or ``GroundedVecEnv``).
        policy: an object with ``act(env, rng)``.
        seeds: (B,) episode seeds (:func:`recrl_core.envs.session.episode_seeds`); the same
            seeds give every policy the same users and the same random numbers.
        rng: the policy's randomness (the simulator's comes from ``seeds``).
        users: (B,) user indices, or None to draw them from the seeds.
    """
    env.reset(seeds, users=users)
    batch, horizon = len(seeds), env.max_turn
    actions = np.full((batch, horizon), -1, dtype=np.int64)
    rewards, probs = np.zeros((batch, horizon)), np.zeros((batch, horizon))
    for t in range(horizon):
        if env.s.done.all():
            break
        chosen = policy.act(env, rng)
        _, reward, _, _, info = env.step(chosen)
        active = info["active"]
        actions[active, t], rewards[:, t], probs[:, t] = chosen[active], reward, info["click_prob"]
    return Sessions(users=env.users.copy(), actions=actions, rewards=rewards, click_probs=probs,
                   terminated=env.s.terminated.copy(), truncated=env.s.truncated.copy())


def compare(env, named_policies: dict, seeds, rng_seed: int, users=None) -> pd.DataFrame:
    """Mean session return, expected return, length, CTR and share of users who left, per policy.

    Every policy meets the same users with the same random numbers (common random
    numbers), so differences between rows are not due to different users.

    Returns:
        frame indexed by policy name; columns return, return_se (standard error),
        expected_return, length, ctr, left.
    """
    rows = {}
    for name, policy in named_policies.items():
        table = rollout(env, policy, seeds, np.random.default_rng(rng_seed), users=users).summary()
        rows[name] = {"return": table["return"].mean(),
                      "return_se": table["return"].std(ddof=1) / np.sqrt(len(table)),
                      "expected_return": table["expected_return"].mean(), "length": table["length"].mean(),
                      "ctr": table["return"].sum() / table["length"].sum(), "left": table["left"].mean()}
    return pd.DataFrame(rows).T
