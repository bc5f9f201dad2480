"""Interest evolution: simulated users whose tastes drift with what they consume (in the spirit of RecSim).

The world (fixed by ``cfg.seed``): N items, each with one of G topics and a
quality :math:`q_i \\in [-1, 1]` (some topics are better on average than
others); U users, each with initial interests :math:`\\theta_u \\in [-1, 1]^G`
scattered around a population mean (so some topics are popular).

One step of a session, for the recommended item a with topic g:

.. math::
    p_t = \\sigma\\big(c\\,\\theta_g + b - w\\,\\sigma^{\\text{sat}}_g\\big), \\qquad
    \\text{click}_t \\sim \\operatorname{Bernoulli}(p_t), \\qquad r_t = \\text{click}_t

- **Appeal is interest, engagement is quality** (RecSim's clickbait effect): the
  click depends on interest and boredom only; the watch response
  :math:`\\ell\\,\\sigma(\\theta_g + q_a)` and the time budget depend on quality.
- **Interest evolution**: after a click, :math:`\\theta_g \\leftarrow \\theta_g +
  \\eta\\,(\\pm 1 - \\theta_g)`, towards +1 with probability :math:`(1 + q_a)/2`.
- **Satiation**: topic boredom grows with exposure and decays (``session.py``).
- **Leaving**: the time budget drops by ``step_cost`` per recommendation and
  rises by ``quality_bonus`` x q_a per click; the user leaves when it is spent,
  or by the KuaiEnv repetition rule; ``max_turn`` truncates the session.

Reference: Ie et al., "RecSim: A configurable simulation platform for recommender
    systems", 2019 (interest evolution, time budget); EasyRL4Rec (Yu et al., 2024),
    ``KuaiEnv`` quit rule; spec-simulators.
Taught in: sec-interest-evolution
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from recrl_core.config import Mode
from recrl_core.envs import session
from recrl_core.envs.session import UserEnv

NUM_UNIFORMS = 2      # per step: the click draw and the direction of interest drift

# Item text a language model can read: the topic is named, and every item title is made
# of words of its topic (the hidden quality is never in the text). Topic g of the world
# is TOPICS[g]; worlds with more topics than names reuse the names with a number.
TOPICS: dict[str, tuple[str, ...]] = {
    "cooking": ("pasta recipe", "street food tour", "baking class", "knife skills", "curry night", "bread starter"),
    "football": ("match highlights", "goal compilation", "transfer news", "penalty shootout", "derby preview",
                 "tactics board"),
    "jazz": ("saxophone solo", "piano trio", "bebop session", "swing standard", "big band concert", "blue note ballad"),
    "gardening": ("tomato harvest", "rose pruning", "compost guide", "balcony garden", "seed sowing",
                  "herb planter"),
    "astronomy": ("black hole explainer", "telescope guide", "meteor shower", "moon landing story",
                  "galaxy tour", "star map"),
    "fitness": ("home workout", "yoga flow", "running plan", "strength training", "stretching routine",
                "cycling climb"),
    "cars": ("supercar review", "engine rebuild", "road trip", "classic car restoration", "electric car test",
             "rally stage"),
    "history": ("roman empire documentary", "medieval castle tour", "world war story", "ancient egypt mystery",
                "viking saga", "revolution timeline"),
    "comedy": ("stand-up special", "sketch show", "prank compilation", "improv night", "sitcom bloopers",
               "roast battle"),
    "travel": ("city guide", "island hopping", "mountain trek", "night market walk", "train journey",
               "desert safari"),
    "gaming": ("speedrun", "boss fight guide", "new console review", "retro game marathon", "esports final",
               "strategy walkthrough"),
    "science": ("chemistry experiment", "physics puzzle", "lab tour", "robot build", "volcano explainer",
                "microscope world"),
    "fashion": ("runway show", "street style", "wardrobe makeover", "vintage thrift haul", "sneaker review",
                "tailoring tips"),
    "pets": ("puppy training", "cat antics", "aquarium setup", "parrot talking", "horse riding lesson",
             "rescue dog story"),
    "music production": ("beat making", "mixing tutorial", "synthesizer jam", "studio session", "vocal recording",
                         "drum programming"),
    "finance": ("stock market update", "budgeting tips", "crypto explainer", "retirement planning",
                "housing market", "tax guide"),
    "nature": ("wildlife documentary", "ocean reef", "rainforest walk", "bird migration", "arctic expedition",
               "volcano island"),
    "art": ("watercolour painting", "sculpture studio", "museum tour", "street mural", "portrait drawing",
            "pottery wheel"),
    "news": ("morning briefing", "election analysis", "interview special", "weather report", "press conference",
             "world headlines"),
    "horror": ("haunted house tour", "ghost story", "creepy legend", "zombie short film", "paranormal investigation",
               "scary campfire tale"),
}
STYLES = ("Beginner's", "Ultimate", "Live", "Quick", "Classic", "Late-night", "Weekend", "Epic")


@dataclass(frozen=True)
class InterestEnvConfig:
    num_users: int = 10_000       # U, the user population (Proposed)
    num_items: int = 1_000        # N, the catalogue (Proposed)
    num_topics: int = 20          # G topics, one per item (Proposed; RecSim IE uses topic clusters)
    history_len: int = 10         # L, items in the observation (Proposed; spec-ialp-mdp)
    max_turn: int = 100           # recommendations per session at most (Public code: EasyRL4Rec max_turn)
    num_leave_compute: int = 5    # K, the quit rule's window (Public code: KuaiEnv default)
    leave_threshold: int = 1      # leave if a topic occurs more often in the window (Public code: KuaiEnv default)
    time_budget: float = 30.0     # minutes at the start of a session (Proposed; RecSim IE time budget)
    step_cost: float = 1.0        # minutes each recommendation takes (Proposed)
    quality_bonus: float = 2.0    # minutes gained per click, times the item's quality (Proposed; RecSim IE)
    click_scale: float = 3.0      # c, logit per unit of interest (Proposed)
    click_bias: float = -1.0      # b, logit at zero interest (Proposed)
    interest_step: float = 0.1    # eta, interest drift per click (Proposed)
    satiation_decay: float = 0.8  # per step (Proposed)
    satiation_weight: float = 1.0  # w, logit lost per unit of satiation (Proposed)
    topic_popularity: float = 0.5  # std of the population's mean interest per topic (Proposed)
    user_spread: float = 0.5      # std of a user's interests around that mean (Proposed)
    quality_spread: float = 0.8   # topic quality means lie evenly in [-spread, spread] (Proposed)
    quality_noise: float = 0.2    # std of item quality around its topic's mean (Proposed)
    item_length: float = 4.0      # minutes of a fully watched item (Proposed; RecSim IE video length)
    seed: int = 0                 # the world: items, topics, qualities, user interests

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("num_users", "num_items")

    @classmethod
    def for_mode(cls, mode: Mode) -> "InterestEnvConfig":
        """Full = the defaults; book and smoke shrink only ``SIZE_FIELDS``."""
        sizes = {Mode.FULL: {},
                 Mode.BOOK: dict(num_users=2_000, num_items=500),
                 Mode.SMOKE: dict(num_users=200, num_items=100)}[mode]
        return replace(cls(), **sizes)


@dataclass(frozen=True)
class InterestWorld:
    """The fixed part of the simulation, built by :func:`sample_world`."""

    topic: np.ndarray          # (N,) int64 topic of each item
    item_genres: np.ndarray    # (N, G) float64 one-hot topics (the quit rule's categories)
    quality: np.ndarray        # (N,) in [-1, 1]
    topic_quality: np.ndarray  # (G,) mean quality per topic
    topic_appeal: np.ndarray   # (G,) the population's mean interest per topic
    interests: np.ndarray      # (U, G) each user's interests at the start of every session


def sample_world(cfg: InterestEnvConfig) -> InterestWorld:
    """Draw items and users from ``cfg.seed`` (never from the episode seeds)."""
    rng = np.random.default_rng(cfg.seed)
    g = cfg.num_topics
    topic_quality = rng.permutation(np.linspace(-cfg.quality_spread, cfg.quality_spread, g))   # (G,)
    topic_appeal = rng.normal(0.0, cfg.topic_popularity, size=g)                               # (G,)
    topic = rng.integers(g, size=cfg.num_items)                                                # (N,)
    quality = np.clip(topic_quality[topic] + rng.normal(0.0, cfg.quality_noise, cfg.num_items), -1, 1)
    noise = rng.normal(0.0, cfg.user_spread, size=(cfg.num_users, g))
    interests = np.clip(topic_appeal[None, :] + noise, -1.0, 1.0)                              # (U, G)
    return InterestWorld(topic=topic, item_genres=np.eye(g)[topic], quality=quality,
                         topic_quality=topic_quality, topic_appeal=topic_appeal, interests=interests)


def topic_names(num_topics: int) -> list[str]:
    """The G topic names of a world: :data:`TOPICS` in order, numbered when G exceeds it."""
    names = list(TOPICS)
    return [names[g % len(names)] + ("" if g < len(names) else f" {g // len(names) + 1}") for g in range(num_topics)]


def item_texts(world: InterestWorld, seed: int = 0) -> list[str]:
    """(N,) titles such as ``"Live bebop session (jazz)"``: a style, a subject of the item's topic, the topic.

    The subject and style are drawn with ``seed``; the topic is the item's own, so a
    reader (or an LLM) can tell an item's topic from its text — and nothing else.
    """
    rng = np.random.default_rng(seed)
    names = topic_names(len(world.topic_quality))
    subjects = list(TOPICS.values())
    texts = []
    for g in world.topic:
        subject = subjects[g % len(subjects)][rng.integers(len(subjects[g % len(subjects)]))]
        texts.append(f"{STYLES[rng.integers(len(STYLES))]} {subject} ({names[g]})")
    return texts


class InterestVecEnv(session.VecSessions):
    """B interest-evolution sessions stepped together with NumPy (no autoreset).

    Each row has its own ``np.random.Generator``; at reset it draws the user
    (unless given) and the session's random numbers, so a row behaves exactly
    like a :class:`InterestEnv` reset with the same seed. Rows whose session
    ended ignore further actions and get reward 0. ``reset`` and ``seen`` are
    documented in :class:`recrl_core.envs.session.VecSessions`.

    Taught in: sec-interest-evolution
    """

    num_uniforms = NUM_UNIFORMS

    def __init__(self, cfg: InterestEnvConfig, world: InterestWorld | None = None):
        self.cfg, self.world = cfg, world if world is not None else sample_world(cfg)
        self.num_items, self.num_users, self.max_turn = cfg.num_items, cfg.num_users, cfg.max_turn
        self.observation_space = session.observation_space(cfg.num_items, cfg.history_len, cfg.max_turn)
        self.rngs = []

    def _allocate(self, batch: int) -> None:
        cfg = self.cfg
        self.s = session.new_session(batch, cfg.num_items, cfg.num_topics, cfg.history_len,
                                     cfg.num_leave_compute, cfg.max_turn, NUM_UNIFORMS)
        self.interest = np.zeros((batch, cfg.num_topics))                              # (B, G) evolves
        self.budget = np.zeros(batch)                                                  # (B,) minutes left

    def _start(self, rows: np.ndarray) -> None:
        self.interest[rows] = self.world.interests[self.users[rows]]
        self.budget[rows] = self.cfg.time_budget

    def click_probabilities(self) -> np.ndarray:
        """(B, N) the true click probability of every item for every row, now."""
        topic = self.world.topic
        logits = self.cfg.click_scale * self.interest[:, topic] + self.cfg.click_bias   # (B, N)
        return session.sigmoid(logits - self.cfg.satiation_weight * self.s.satiation[:, topic])

    def _respond(self, rows: np.ndarray, action: np.ndarray, u: np.ndarray):
        """Click probability, click and watch time of rows ``rows`` for items ``action``; (A,) each."""
        cfg, topic = self.cfg, self.world.topic[action]
        share = self.world.item_genres[action]                                         # (A, G)
        logit = cfg.click_scale * self.interest[rows, topic] + cfg.click_bias
        p = session.sigmoid(logit - session.satiation_penalty(self.s.satiation[rows], share,
                                                              cfg.satiation_weight))
        click = u[:, 0] < p
        watch = cfg.item_length * session.sigmoid(self.interest[rows, topic] + self.world.quality[action])
        return p, click, np.where(click, watch, 0.0)

    def _evolve(self, rows, action, click, u) -> None:
        """Interest drift (clicked rows), satiation and time budget, in place."""
        cfg, topic, quality = self.cfg, self.world.topic[action], self.world.quality[action]
        up = u[:, 1] < (1.0 + quality) / 2.0                           # RecSim: good items raise interest
        target = np.where(up, 1.0, -1.0)
        r, g = rows[click], topic[click]
        self.interest[r, g] += cfg.interest_step * (target[click] - self.interest[r, g])
        share = self.world.item_genres[action]
        self.s.satiation[rows] = session.update_satiation(self.s.satiation[rows], share, cfg.satiation_decay)
        self.budget[rows] += -cfg.step_cost + cfg.quality_bonus * quality * click

    def step(self, actions):
        """One recommendation per row.

        Args:
            actions: (B,) int item ids.
        Returns:
            ``(obs, reward (B,), terminated (B,), truncated (B,), info)``; info holds
            (B,) arrays ``click``, ``click_prob``, ``watch``, ``budget``, ``quit``
            (the repetition rule fired) and ``active`` (the row acted this step).
        """
        cfg, s = self.cfg, self.s
        actions = np.asarray(actions, dtype=np.int64)
        active = ~s.done
        rows = np.flatnonzero(active)
        act = actions[rows]
        u = s.uniforms[rows, s.step[rows]]                                             # (A, 2)
        quit_now = session.quit_by_repetition(s.window[rows], act, self.world.item_genres, cfg.leave_threshold)
        p, click, watch = self._respond(rows, act, u)
        self._evolve(rows, act, click, u)
        self.finish_step(rows, act, click, quit_now | (self.budget[rows] <= 0.0))
        info = {key: np.zeros(len(actions), dtype=dtype) for key, dtype in
                (("click", bool), ("click_prob", float), ("watch", float), ("quit", bool))}
        info["click"][rows], info["click_prob"][rows], info["watch"][rows] = click, p, watch
        info["quit"][rows], info["budget"], info["active"] = quit_now, self.budget.copy(), active
        reward = info["click"].astype(np.float64)
        return session.observe(s), reward, s.terminated.copy(), s.truncated.copy(), info


class InterestEnv(UserEnv):
    """One interest-evolution user as a gymnasium ``Env`` (action: an item id in ``Discrete(N)``).

    Taught in: sec-interest-evolution
    """

    def __init__(self, cfg: InterestEnvConfig, world: InterestWorld | None = None):
        super().__init__(InterestVecEnv(cfg, world))
