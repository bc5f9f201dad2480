"""Online deployment: a pre-trained policy, an online one, and the weight that decides who serves.

A-iALP has two variants (spec-ialp-losses):

* **A-iALP_ft** fine-tunes the pre-trained actor-critic online (Ch. 6's A2C);
* **A-iALP_ap** keeps the pre-trained policy :math:`\\pi_{\\text{pre}}` frozen, learns
  :math:`\\pi_{\\text{on}}` online and serves the mixture

.. math::
    \\pi_{\\text{ap}} = w\\,\\pi_{\\text{pre}} + (1 - w)\\,\\pi_{\\text{on}}, \\qquad
    w = \\operatorname{clip}\\Big(\\sigma\\Big(\\kappa\\,\\frac{\\hat J_{\\text{pre}} - \\hat J_{\\text{on}}}
        {\\max(\\hat J_{\\text{pre}}, \\hat J_{\\text{on}})}\\Big),\\; w_{\\min},\\; w_{\\max}\\Big)

The paper's rule is not public; this book's reconstruction draws the mixture **per
session** — a new session is served by :math:`\\pi_{\\text{pre}}` with probability w,
else by :math:`\\pi_{\\text{on}}` — so each policy's recent session returns are
observed: :math:`\\hat J` are their moving averages, updated whenever a session ends.
:math:`\\pi_{\\text{on}}` learns by A2C from its own sessions. With ``rule="fixed"``, w
stays at ``fixed_w``: w = 1 is exactly the frozen pre-trained policy and w = 0 exactly
online A2C (tested).

:func:`fit_mixture` runs all variants: A2C from scratch (w = 0, a fresh network), iALP
frozen (w = 1), A-iALP_ft (w = 0, the pre-trained network) and A-iALP_ap (adaptive w).

Spec: spec-ialp-losses (book/appendix/ialp.md), online.
Taught in: sec-ialp-online
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core.config import Mode
from recrl_core.envs import policies
from recrl_core.rl import actor_critic
from recrl_core.train.online import A2CConfig, A2CPolicy, as_tensors, sample_actions

RULES = ("adaptive", "fixed")
FT_CRITIC = ("reset", "keep")


@dataclass(frozen=True)
class AdaptConfig:
    rule: str = "adaptive"   # adaptive | fixed (Uncertain: the paper's rule is unknown; spec-uncertain)
    kappa: float = 5.0       # slope on the relative return gap (Proposed; spec-ialp-losses)
    w_min: float = 0.1       # the pre-trained policy always serves this share at least (Proposed)
    w_max: float = 0.9       # ... and at most this, so the online policy keeps learning (Proposed; spec: 1)
    w_init: float = 0.9      # before both returns are known (Proposed)
    fixed_w: float = 0.5     # rule "fixed" (Proposed)
    ema: float = 0.05        # moving-average rate of J_pre, J_on per finished session (Proposed)
    ft_critic: str = "reset"  # A-iALP_ft: the offline critic valued another reward; "keep" continues it (Proposed;
    #                          sec-ialp-online measures both)
    seed: int = 0            # draws of which policy serves a session; the reset critic's initialisation

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of: {', '.join(RULES)}")
        if not 0.0 <= self.w_min <= self.w_max <= 1.0 or not 0.0 <= self.fixed_w <= 1.0:
            raise ValueError("need 0 <= w_min <= w_max <= 1 and 0 <= fixed_w <= 1")
        if self.ft_critic not in FT_CRITIC:
            raise ValueError(f"unknown ft_critic {self.ft_critic!r}; choose one of: {', '.join(FT_CRITIC)}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "AdaptConfig":
        """The same in every mode: the rule and its constants are semantics."""
        return replace(cls())


def mixture_weight(j_pre: float, j_on: float, cfg: AdaptConfig) -> float:
    """w from the two moving-average returns (NaN = not observed yet: ``w_init``).

    .. math::
        w = \\operatorname{clip}\\big(\\sigma(\\kappa\\,(J_{\\text{pre}} - J_{\\text{on}})
            / \\max(J_{\\text{pre}}, J_{\\text{on}})),\\; w_{\\min},\\; w_{\\max}\\big)

    Taught in: sec-ialp-online
    """
    if cfg.rule == "fixed":
        return cfg.fixed_w
    if np.isnan(j_pre) or np.isnan(j_on):
        return cfg.w_init
    scale = max(j_pre, j_on, 1e-6)
    return float(np.clip(1.0 / (1.0 + np.exp(-cfg.kappa * (j_pre - j_on) / scale)), cfg.w_min, cfg.w_max))


def mixture_probs(probs_pre: torch.Tensor, probs_on: torch.Tensor, w: float) -> torch.Tensor:
    """(B, N) pi_ap = w pi_pre + (1 - w) pi_on: the distribution a session-level draw serves on average."""
    return w * probs_pre + (1.0 - w) * probs_on


def fine_tune_start(pre_net: actor_critic.ActorCritic, cfg: AdaptConfig) -> actor_critic.ActorCritic:
    """A-iALP_ft's starting network: a copy of the pre-trained one, its critic re-initialised unless ``keep``."""
    import copy

    net = copy.deepcopy(pre_net)
    if cfg.ft_critic == "reset":
        torch.manual_seed(cfg.seed)
        net.critic.reset_parameters()
    return net


@dataclass
class MixtureResult:
    episodes: pd.DataFrame    # one row per finished session: episode, update, return, length, left, served_by, w
    losses: pd.DataFrame      # A2C loss parts of the online policy every log_every updates (empty if frozen)
    item_counts: np.ndarray   # (N,) recommendations per item over the last quarter of the run
    evaluations: pd.DataFrame  # per checkpoint: update, w, pre, on, served = w pre + (1 - w) on (mean returns)


@dataclass(frozen=True)
class Evaluation:
    """Held-out sessions that measure the served policy at checkpoints (common random numbers).

    ``env`` is a second simulator (never the training one), ``seeds`` and ``users`` fix the
    sessions, ``checkpoints`` how many evaluations after the one before any update.
    """

    env: object
    seeds: list[int]
    users: np.ndarray | None = None
    checkpoints: int = 4


def _evaluate(ev: Evaluation | None, net, rng_seed: int) -> float:
    """Mean return of ``net``'s sampled policy on the evaluation sessions (NaN without one)."""
    if ev is None or net is None:
        return float("nan")
    sessions = policies.rollout(ev.env, A2CPolicy(net), ev.seeds, np.random.default_rng(rng_seed), users=ev.users)
    return float(sessions.rewards.sum(axis=1).mean())


class _Checkpoints:
    """Evaluations of both policies at update 0 and every ``updates / checkpoints`` updates."""

    def __init__(self, ev: Evaluation | None, updates: int, pre_net, seed: int):
        self.ev, self.seed, self.rows = ev, seed, []
        self.every = max(updates // ev.checkpoints, 1) if ev is not None else None
        self.pre = _evaluate(ev, pre_net, seed)

    def record(self, update: int, on_net, w: float) -> None:
        if self.ev is None or (update % self.every and update != 0):
            return
        on = _evaluate(self.ev, on_net, self.seed)
        served = self.pre if np.isnan(on) else on if np.isnan(self.pre) else w * self.pre + (1 - w) * on
        self.rows.append({"update": update, "w": w, "pre": self.pre, "on": on, "served": served})


class _Weights:
    """The moving-average returns of both policies and the current w."""

    def __init__(self, cfg: AdaptConfig):
        self.cfg, self.j = cfg, {True: float("nan"), False: float("nan")}      # True: pre-trained
        self.w = mixture_weight(np.nan, np.nan, cfg)

    def observe(self, served_by_pre: bool, session_return: float) -> None:
        old = self.j[served_by_pre]
        self.j[served_by_pre] = session_return if np.isnan(old) else old + self.cfg.ema * (session_return - old)
        self.w = mixture_weight(self.j[True], self.j[False], self.cfg)


def fit_mixture(env, pre_net: actor_critic.ActorCritic | None, on_net: actor_critic.ActorCritic | None,
                cfg: A2CConfig, adapt: AdaptConfig, rng: np.random.Generator, *, learn: bool = True,
                evaluation: Evaluation | None = None, progress: bool = False) -> MixtureResult:
    """``cfg.updates`` steps of ``cfg.num_envs`` parallel sessions served by pre (frozen) or on (learning).

    Each session is served by ``pre_net`` with probability w (:func:`mixture_weight`, drawn
    from a generator of ``adapt.seed``), else by ``on_net``; one A2C update of ``on_net``
    per step on the transitions it served (none with ``learn=False``). Actions are drawn
    with ``rng`` from the serving policy's logits exactly as ``train.online.fit_a2c`` does,
    so ``w = 0`` with ``pre_net=None`` reproduces ``fit_a2c`` bit for bit. With an
    ``evaluation``, both policies are measured on its held-out sessions before the first
    update and at its checkpoints; the served policy's value is ``w pre + (1 - w) on``.
    """
    from recrl_core.progress import bar as progress_bar

    only_on = adapt.rule == "fixed" and adapt.fixed_w == 0.0
    only_pre = adapt.rule == "fixed" and adapt.fixed_w == 1.0 and not learn
    if (pre_net is None and not only_on) or (on_net is None and not only_pre):
        raise ValueError("a policy that may serve is missing: pass pre_net unless rule='fixed' with fixed_w=0, "
                         "and on_net unless rule='fixed' with fixed_w=1 and learn=False")
    weights, arm_rng = _Weights(adapt), np.random.default_rng(adapt.seed)
    optimizer = torch.optim.Adam(on_net.parameters(), lr=cfg.lr) if (learn and on_net is not None) else None
    obs, _ = env.reset(_seeds(rng, cfg.num_envs))
    by_pre = arm_rng.random(cfg.num_envs) < weights.w                             # (B,) who serves each session
    start_w = np.full(cfg.num_envs, weights.w)
    returns, lengths = np.zeros(cfg.num_envs), np.zeros(cfg.num_envs, dtype=np.int64)
    episodes, losses, window, counts = [], [], [], np.zeros(env.num_items)
    checks = _Checkpoints(evaluation, cfg.updates, pre_net, adapt.seed)
    checks.record(0, on_net, weights.w)
    for update in progress_bar(range(1, cfg.updates + 1), desc="online", show=progress, leave=False):
        obs, reward, terminated, truncated, actions, parts = _step(env, pre_net, on_net, optimizer, obs, by_pre,
                                                                   cfg, rng)
        if update > 3 * cfg.updates // 4:
            np.add.at(counts, actions, 1.0)
        returns, lengths = returns + reward, lengths + 1
        window += [parts] if parts else []
        for row in np.flatnonzero(terminated | truncated):
            episodes.append({"episode": len(episodes) + 1, "update": update, "return": returns[row],
                             "length": int(lengths[row]), "left": bool(terminated[row]),
                             "served_by": "pre" if by_pre[row] else "on", "w": start_w[row]})
            weights.observe(bool(by_pre[row]), float(returns[row]))
        ended = np.flatnonzero(terminated | truncated)
        if len(ended):
            returns[ended], lengths[ended] = 0.0, 0
            obs, _ = env.reset(_seeds(rng, len(ended)), slots=ended)
            by_pre[ended] = arm_rng.random(len(ended)) < weights.w
            start_w[ended] = weights.w
        if update % cfg.log_every == 0 and window:
            losses.append({"update": update} | pd.DataFrame(window).mean().to_dict())
            window = []
        checks.record(update, on_net, weights.w)
    columns = ["episode", "update", "return", "length", "left", "served_by", "w"]
    return MixtureResult(pd.DataFrame(episodes, columns=columns), pd.DataFrame(losses), counts,
                         pd.DataFrame(checks.rows, columns=["update", "w", "pre", "on", "served"]))


def _seeds(rng: np.random.Generator, n: int) -> list[int]:
    return [int(s) for s in rng.integers(0, 2**63, size=n)]


def _step(env, pre_net, on_net, optimizer, obs, by_pre: np.ndarray, cfg: A2CConfig, rng: np.random.Generator):
    """Act in every session with its serving policy, step the simulator, update on_net on its sessions."""
    items, feedback, lengths = as_tensors(obs)
    seen = torch.tensor(env.seen)                                                 # a copy: step() edits seen
    on = torch.as_tensor(~by_pre)
    logits, values = on_net(items, feedback, lengths, seen=seen) if on_net is not None else (None, None)
    if by_pre.any():
        with torch.no_grad():
            pre_logits, _ = pre_net(items, feedback, lengths, seen=seen)
        logits = pre_logits if logits is None else torch.where(on[:, None], logits, pre_logits)
    action = sample_actions(logits, rng)
    next_obs, reward, terminated, truncated, _ = env.step(action)
    parts = {}
    if optimizer is not None and bool(on.any()):
        with torch.no_grad():
            _, next_values = on_net(*as_tensors(next_obs))                       # (B,) V(s_{t+1})
        out = actor_critic.a2c_loss(logits[on], values[on], next_values[on], torch.as_tensor(action)[on],
                                    torch.as_tensor(reward, dtype=torch.float32)[on],
                                    torch.as_tensor(terminated, dtype=torch.float32)[on], cfg.gamma, cfg.entropy_coef)
        optimizer.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(on_net.parameters(), cfg.max_grad_norm)
        optimizer.step()
        parts = {k: v.item() for k, v in out.items()}
    return next_obs, reward, terminated, truncated, action, parts


def binned_returns(episodes: pd.DataFrame, updates: int, bins: int) -> pd.Series:
    """Mean session return per window of ``updates / bins`` updates (by the update a session ended in)."""
    width = max(updates // bins, 1)
    return episodes.groupby((episodes["update"] - 1) // width)["return"].mean()


def curve_summary(result: MixtureResult, updates: int, bins: int = 20) -> dict[str, float]:
    """What an online run says, in a few numbers.

    From the held-out evaluations (common random numbers; NaN without them): ``jump_start``,
    the served policy's mean return before any update; ``final``, at the last checkpoint;
    ``dip``, the worst checkpoint below the start (0 if none is below). From the training
    sessions users actually met: ``auc``, their mean return (the area under the learning
    curve, per session); ``length``, mean session length; ``coverage``, the share of the
    catalogue recommended in the last quarter.
    Taught in: sec-ialp-online
    """
    ev, ep = result.evaluations, result.episodes
    served = ev["served"].to_numpy() if len(ev) else np.array([np.nan])
    return {"jump_start": float(served[0]), "final": float(served[-1]),
            "dip": float(min(0.0, np.nanmin(served - served[0]))) if len(ev) else float("nan"),
            "auc": float(ep["return"].mean()) if len(ep) else float("nan"),
            "length": float(ep["length"].mean()) if len(ep) else float("nan"),
            "coverage": float((result.item_counts > 0).mean())}
