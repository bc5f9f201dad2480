"""What every simulated session shares: the observation, the history, satiation and the quit rule.

Both simulators (:mod:`recrl_core.envs.interest`, :mod:`recrl_core.envs.grounded`)
keep B users in one :class:`Session` of NumPy arrays and step them together.
A single-user gymnasium environment is the same code with B = 1
(:class:`UserEnv`).

**Observation** of one user (batched: a leading B on every key):

=========== ============ ====================================================
key         shape, dtype meaning
=========== ============ ====================================================
``items``   (L,) int64   the last L items the user saw, oldest first,
                         right-padded with the pad id N
``feedback``(L,) int8    1 where that item was clicked (0 on padding)
``length``  () int64     real entries in ``items`` (0 .. L)
``step``    () int64     recommendations made so far in this session
=========== ============ ====================================================

**Quit rule** (EasyRL4Rec ``KuaiEnv._determine_whether_to_leave``): the user
leaves after the recommendation of item a_t if one of a_t's categories occurs
more than ``leave_threshold`` times among the categories of the previous
``num_leave_compute`` recommendations (fewer at the start of a session).

**Satiation** (boredom), per category g: sigma_g <- decay * sigma_g + share of
g in the recommended item; it lowers the click logit of an item by
``weight`` times the mean satiation over the item's categories.

Reference: Ie et al., RecSim, 2019 (satiation and interest dynamics); EasyRL4Rec
    (Yu et al., 2024), ``src/core/envs/KuaiRec/KuaiEnv.py`` (quit rule, max_turn);
    spec-simulators.
Taught in: sec-interest-evolution
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def observation_space(num_items: int, history_len: int, max_turn: int) -> spaces.Dict:
    """The single-user observation space (see the module docstring)."""
    return spaces.Dict({
        "items": spaces.MultiDiscrete(np.full(history_len, num_items + 1)),   # pad id = N
        "feedback": spaces.MultiBinary(history_len),
        "length": spaces.Discrete(history_len + 1),
        "step": spaces.Discrete(max_turn + 1),
    })


def episode_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent per-user episode seeds derived from one seed (``SeedSequence``).

    Seeding user b's generator with ``seeds[b]`` is what a single-user environment
    does in ``reset(seed=seeds[b])``, so a batch and a loop of single environments
    see identical randomness.
    """
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64)]


@dataclass
class Session:
    """The per-user state of B sessions; every array has a leading B."""

    items: np.ndarray        # (B, L) int64 history, right-padded with N
    feedback: np.ndarray     # (B, L) int8 clicks on the history
    length: np.ndarray       # (B,) int64
    step: np.ndarray         # (B,) int64 recommendations so far
    window: np.ndarray       # (B, K) int64 the last K recommendations (quit rule), N = empty
    seen: np.ndarray         # (B, N) bool items recommended this session (or logged, grounded)
    satiation: np.ndarray    # (B, G) float64
    uniforms: np.ndarray     # (B, max_turn, R) float64, the session's random numbers, drawn at reset
    done: np.ndarray         # (B,) bool terminated or truncated
    terminated: np.ndarray   # (B,) bool the user left (quit rule, budget)
    truncated: np.ndarray    # (B,) bool max_turn reached


def new_session(batch: int, num_items: int, num_genres: int, history_len: int,
                window: int, max_turn: int, num_uniforms: int) -> Session:
    """B empty sessions (padding everywhere, nothing seen, zero satiation)."""
    return Session(
        items=np.full((batch, history_len), num_items, dtype=np.int64),
        feedback=np.zeros((batch, history_len), dtype=np.int8),
        length=np.zeros(batch, dtype=np.int64), step=np.zeros(batch, dtype=np.int64),
        window=np.full((batch, window), num_items, dtype=np.int64),
        seen=np.zeros((batch, num_items), dtype=bool),
        satiation=np.zeros((batch, num_genres)),
        uniforms=np.zeros((batch, max_turn, num_uniforms)),
        done=np.zeros(batch, dtype=bool), terminated=np.zeros(batch, dtype=bool),
        truncated=np.zeros(batch, dtype=bool))


def clear_rows(s: Session, rows: np.ndarray, num_items: int) -> None:
    """Reset the sessions at ``rows`` to empty, in place."""
    s.items[rows], s.feedback[rows], s.window[rows] = num_items, 0, num_items
    s.length[rows], s.step[rows], s.seen[rows], s.satiation[rows] = 0, 0, False, 0.0
    s.done[rows], s.terminated[rows], s.truncated[rows] = False, False, False


def observe(s: Session) -> dict[str, np.ndarray]:
    """The batched observation, as fresh copies (callers keep what they are given)."""
    return {"items": s.items.copy(), "feedback": s.feedback.copy(),
            "length": s.length.copy(), "step": s.step.copy()}


def push_history(s: Session, rows: np.ndarray, actions: np.ndarray, clicks: np.ndarray) -> None:
    """Append one (item, click) to the history of ``rows``; drop the oldest when full.

    Args:
        rows: (A,) indices of the sessions that acted.
        actions: (A,) recommended items; clicks: (A,) bool.
    """
    width = s.items.shape[1]
    full = s.length[rows] == width                                   # (A,)
    shift = rows[full]
    s.items[shift] = np.roll(s.items[shift], -1, axis=1)             # oldest falls off the left
    s.feedback[shift] = np.roll(s.feedback[shift], -1, axis=1)
    pos = np.minimum(s.length[rows], width - 1)                      # (A,) where the new entry goes
    s.items[rows, pos], s.feedback[rows, pos] = actions, clicks.astype(np.int8)
    s.length[rows] = np.minimum(s.length[rows] + 1, width)
    s.window[rows] = np.roll(s.window[rows], -1, axis=1)             # (A, K) slide the quit window
    s.window[rows, -1] = actions
    s.seen[rows, actions] = True


def quit_by_repetition(window: np.ndarray, actions: np.ndarray, item_genres: np.ndarray,
                       threshold: int) -> np.ndarray:
    """The KuaiEnv quit rule, batched.

    Args:
        window: (A, K) the previous K recommendations, N where there are none yet.
        actions: (A,) the items recommended now.
        item_genres: (N, G) 0/1 categories of every item.
        threshold: ``leave_threshold``; more occurrences than this make the user leave.
    Returns:
        (A,) bool, True where some category of ``actions`` occurs more than
        ``threshold`` times in the window (multi-category items count each category).
    Reference: EasyRL4Rec, ``KuaiEnv._determine_whether_to_leave``.
    Taught in: sec-interest-evolution
    """
    padded = np.vstack([item_genres, np.zeros((1, item_genres.shape[1]), item_genres.dtype)])
    counts = padded[window].sum(axis=1)                              # (A, G) occurrences in the window
    return ((item_genres[actions] > 0) & (counts > threshold)).any(axis=1)


def genre_share(item_genres: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """(A, G) each action's categories, normalised to sum to 1 (0 for an item without any)."""
    genres = item_genres[actions].astype(np.float64)                 # (A, G)
    return genres / np.maximum(genres.sum(axis=1, keepdims=True), 1.0)


def satiation_penalty(satiation: np.ndarray, share: np.ndarray, weight: float) -> np.ndarray:
    """(A,) ``weight`` x the item's mean satiation over its categories; subtracted from the click logit."""
    return weight * (satiation * share).sum(axis=1)


def update_satiation(satiation: np.ndarray, share: np.ndarray, decay: float) -> np.ndarray:
    """sigma <- decay * sigma + share: boredom grows with exposure and fades geometrically."""
    return decay * satiation + share


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class VecSessions:
    """Reset logic shared by the vectorised simulators; subclasses add the dynamics.

    A subclass sets ``num_items``, ``num_users``, ``max_turn`` and ``num_uniforms``
    and implements ``_allocate(batch)`` (create ``self.s`` and its own (B, ...)
    arrays) and ``_start(rows)`` (fill those rows for the users in ``self.users``).
    """

    rngs: list[np.random.Generator]
    s: Session

    @property
    def seen(self) -> np.ndarray:
        """(B, N) bool, items the policy should not show again (recommended, or logged)."""
        return self.s.seen

    def observation(self) -> dict[str, np.ndarray]:
        """The current batched observation (fresh copies)."""
        return observe(self.s)

    def reset(self, seeds=None, *, users=None, slots=None):
        """Start sessions: all rows, or only ``slots`` (an autoreset for training loops).

        Args:
            seeds: one int per row reset (see :func:`episode_seeds`); None continues
                the rows' own generators.
            users: (len,) user indices, or None to draw them from the generators.
            slots: (len,) rows to reset; None = all rows (the batch size becomes ``len(seeds)``).
        Returns:
            ``(obs, info)``: the batched observation and ``{"user": (B,)}``.
        """
        if seeds is None and not self.rngs:
            raise ValueError("the first reset needs seeds, e.g. session.episode_seeds(seed, batch)")
        if seeds is not None:
            rngs = [np.random.default_rng(int(seed)) for seed in seeds]
        else:
            rngs = self.rngs if slots is None else [self.rngs[b] for b in slots]
        return self.reset_generators(rngs, users=users, slots=slots)

    def reset_generators(self, rngs, *, users=None, slots=None):
        """As :meth:`reset`, with the generators themselves (used by :class:`UserEnv`).

        Each row's generator draws, in this order, the user (if ``users`` is None)
        and the session's (max_turn, R) uniforms; ``step`` draws nothing.
        """
        if slots is None:
            self.rngs, self.users = list(rngs), np.zeros(len(rngs), dtype=np.int64)
            self._allocate(len(rngs))
            slots = np.arange(len(rngs))
        slots = np.asarray(slots, dtype=np.int64)
        clear_rows(self.s, slots, self.num_items)
        for j, (row, rng) in enumerate(zip(slots, rngs, strict=True)):
            self.rngs[row] = rng
            self.users[row] = rng.integers(self.num_users) if users is None else users[j]
            self.s.uniforms[row] = rng.random((self.max_turn, self.num_uniforms))
        self._start(slots)
        return observe(self.s), {"user": self.users.copy()}

    def finish_step(self, rows: np.ndarray, actions: np.ndarray, clicks: np.ndarray,
                    leave: np.ndarray) -> None:
        """Record the step of ``rows``: history, step count, terminated/truncated/done flags."""
        s = self.s
        push_history(s, rows, actions, clicks)
        s.step[rows] += 1
        s.terminated[rows] = leave
        s.truncated[rows] = (s.step[rows] >= self.max_turn) & ~leave
        s.done[rows] = s.terminated[rows] | s.truncated[rows]


def _first(batch: dict[str, np.ndarray]) -> dict:
    """Row 0 of every batched array: arrays stay (copied) arrays, (B,) entries become scalars."""
    return {key: value[0].copy() if value.ndim > 1 else value[0] for key, value in batch.items()}


class UserEnv(gym.Env):
    """One simulated user as a gymnasium environment: a batch of one of a vectorised simulator.

    ``reset(seed=s)`` seeds ``self.np_random`` (gymnasium's rule) and hands that
    generator to the simulator, which draws the user and the session's random
    numbers from it; ``step`` draws nothing. So the single environment reset with
    ``seed=s`` and row b of a batch reset with ``seeds[b] = s`` behave identically.
    ``options={"user": u}`` chooses the user instead of drawing one.

    Args:
        vec: an :class:`~recrl_core.envs.interest.InterestVecEnv` or
            :class:`~recrl_core.envs.grounded.GroundedVecEnv`.
    Taught in: sec-interest-evolution
    """

    metadata = {"render_modes": []}

    def __init__(self, vec):
        self.vec = vec
        self.observation_space = vec.observation_space
        self.action_space = spaces.Discrete(vec.num_items)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        user = (options or {}).get("user")
        users = None if user is None else np.array([user], dtype=np.int64)
        obs, info = self.vec.reset_generators([self.np_random], users=users)
        return _first(obs), _first(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.vec.step(np.array([action], dtype=np.int64))
        info = {key: value.item() for key, value in _first(info).items()}
        return _first(obs), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info
