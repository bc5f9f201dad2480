"""LAAC's adversarial actor-critic for item actions: the losses, the anchor, and the training step.

For a batch of logged transitions :math:`(s, a_D, r, s', d)`, a critic :math:`f_\\phi(s,\\cdot)`
over the N items, a softmax actor :math:`\\pi_\\theta` and a reference :math:`\\mu` — the
LLM's suggestions :math:`A_{\\text{LLM}}(s)` with weights :math:`\\mu(a\\mid s)`, or the logged
action (ATAC with the data as reference) — the book's reconstruction (spec-laac-losses) is

.. math::
    \\mathcal L_f = \\underbrace{\\operatorname{mean}_B\\big[f(s,\\operatorname{sg}\\pi) - f(s,\\mu)\\big]}_{\\text{relative pessimism}}
    + \\beta\\,\\underbrace{\\operatorname{mean}_B\\big(f(s,a_D) - \\operatorname{sg}(y)\\big)^2}_{\\text{Bellman}}
    + \\lambda\\,\\underbrace{\\operatorname{mean}_B \\textstyle\\sum_{a \\in A_{\\text{LLM}}(s),\\,a \\ne a_D}
      \\mu(a\\mid s)\\,\\rho\\big(f(s,a) - \\operatorname{sg} f(s,a_D)\\big)}_{\\text{anchor}}

with :math:`y = r + \\gamma (1-d)\\, \\bar f(s', \\pi(s'))` from a Polyak-averaged target critic,
:math:`f(s,\\pi)=\\sum_a \\pi(a\\mid s) f(s,a)` computed exactly, and :math:`\\rho(x) = \\max(x,0)^2`
(hinge) or :math:`x^2` (squared). The actor minimises

.. math::
    \\mathcal L_\\pi = -\\operatorname{mean}_B\\big[f(s,\\pi) - f(s,\\mu)\\big] - \\alpha\\,\\mathcal H(\\pi(\\cdot\\mid s))
    - \\eta \\log \\pi(a_D\\mid s)

with the critic held fixed. After each critic step its weights are projected to a
maximum norm (each layer's ``weight``, as lightATAC) and the target moves by Polyak averaging.

Reference: Cheng et al., ICML 2022 (ATAC), lightATAC; Woo et al., 2025 (LAAC); spec-laac-losses.
Taught in: sec-laac-critic
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from recrl_core.config import Mode
from recrl_core.data.transitions import Transitions
from recrl_core.methods.laac.suggestions import REFERENCES
from recrl_core.rl.targets import polyak_update, td_target

ANCHORS = ("hinge", "squared")


@dataclass(frozen=True)
class LAACConfig:
    # (Proposed) = this book's reconstruction (spec-laac-losses); lightATAC = its public code (spec-atac)
    beta: float = 1.0             # Bellman weight β (lightATAC default 1.0)
    anchor_weight: float = 1.0    # λ; 0 = no anchor (Proposed: 0.1 or 1)
    anchor: str = "hinge"         # hinge | squared (Uncertain; spec-laac-losses)
    llm_reference: str = "uniform"   # μ over the suggestions: uniform | rank (1/rank) (Uncertain; spec-laac-losses)
    gamma: float = 0.5            # discount, as SQN on session data (Proposed)
    critic_lr: float = 1e-3       # Adam (Proposed; lightATAC 5e-4)
    actor_lr: float = 0.01        # Adam, as Ch. 4's CE (Proposed; lightATAC's 5e-7 is for continuous control)
    tau: float = 5e-3             # Polyak step of the target critic (lightATAC)
    entropy: float = 0.01         # α, fixed (Proposed; lightATAC tunes it to a target entropy)
    actor_every: int = 2          # critic : actor updates = 2 : 1 (Proposed)
    max_critic_norm: float = 100.0   # per-tensor weight-norm projection (lightATAC)
    bc_weight: float = 1.0        # η, behaviour cloning kept in the actor loss (Proposed)
    warmup_steps: int = 0         # first steps whose actor update is cloning only; 0 = no warm start (Proposed)
    batch_size: int = 256
    epochs: int = 60              # 2x Ch. 4's 30: at 2 : 1 the actor gets as many updates as CE
    eval_every: int = 2000
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_size", "epochs", "eval_every", "warmup_steps")

    def __post_init__(self):
        if self.anchor not in ANCHORS:
            raise ValueError(f"unknown anchor {self.anchor!r}; choose one of: {', '.join(ANCHORS)}")
        if self.llm_reference not in REFERENCES:
            raise ValueError(f"unknown llm_reference {self.llm_reference!r}; choose one of: {', '.join(REFERENCES)}")
        if self.actor_every < 1:
            raise ValueError(f"actor_every must be >= 1, got {self.actor_every}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LAACConfig":
        """Full = the defaults; book and smoke twice Chapter 4's updates (the actor's share equals CE's)."""
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(epochs=20, eval_every=50),
                 Mode.SMOKE: dict(batch_size=64, epochs=2, eval_every=5)}[mode]
        return replace(cls(), **sizes)


@dataclass(frozen=True)
class UserTransitions(Transitions):
    """Transitions with the user of each row, ``user`` (E,) int64: the key of the user's suggestions."""

    user: np.ndarray = None


def policy_value(pi: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """(B, N), (B, N) -> (B,) :math:`f(s,\\pi) = \\sum_a \\pi(a\\mid s) f(s,a)`, exactly."""
    return (pi * f).sum(dim=-1)


def reference_value(f: torch.Tensor, items: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, N), (B, K) ids (-1 = none), (B, K) weights -> (B,) :math:`f(s,\\mu)=\\sum_k \\mu_k f(s,a_k)`."""
    return (f.gather(1, items.clamp(min=0)) * weights).sum(dim=-1)


def bellman_loss(f: torch.Tensor, action: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean_B (f(s, a_D) - sg(y))^2."""
    return ((f.gather(1, action[:, None]).squeeze(1) - target.detach()) ** 2).mean()


def anchor_loss(f: torch.Tensor, action: torch.Tensor, items: torch.Tensor, weights: torch.Tensor,
                form: str = "hinge") -> torch.Tensor:
    """mean_B Σ_k μ_k ρ(f(s, a_k) - sg f(s, a_D)) over suggested items that are not the logged one.

    ρ is max(x, 0)² ("hinge": only values above the dataset action's are pulled down) or
    x² ("squared"). Padding (-1) is left out; a suggestion equal to the logged item adds
    nothing (its gap is 0), so only suggestions absent from the data at s are anchored.
    """
    if form not in ANCHORS:
        raise ValueError(f"unknown anchor {form!r}; choose one of: {', '.join(ANCHORS)}")
    novel = items >= 0                                                            # (B, K)
    gap = f.gather(1, items.clamp(min=0)) - f.gather(1, action[:, None]).detach()  # (B, K)
    rho = F.relu(gap) ** 2 if form == "hinge" else gap ** 2
    return (weights * novel * rho).sum(dim=-1).mean()


def critic_loss(f: torch.Tensor, pi: torch.Tensor, action: torch.Tensor, target: torch.Tensor,
                ref_items: torch.Tensor, ref_weights: torch.Tensor, cfg: LAACConfig) -> dict[str, torch.Tensor]:
    """``{"loss", "pessimism", "bellman", "anchor"}``; the actor's π enters as a constant."""
    pess = (policy_value(pi.detach(), f) - reference_value(f, ref_items, ref_weights)).mean()
    bell = bellman_loss(f, action, target)
    anch = anchor_loss(f, action, ref_items, ref_weights, cfg.anchor)
    loss = pess + cfg.beta * bell + cfg.anchor_weight * anch
    return {"loss": loss, "pessimism": pess.detach(), "bellman": bell.detach(), "anchor": anch.detach()}


def actor_loss(logits: torch.Tensor, f: torch.Tensor, action: torch.Tensor, ref_value: torch.Tensor,
               cfg: LAACConfig, *, warm: bool) -> dict[str, torch.Tensor]:
    """``{"loss", "advantage", "entropy", "bc"}``: -(f(s,π) - f(s,μ)) - α H + η CE, the critic fixed.

    While ``warm`` (the warm start) the loss is the cloning term alone.
    """
    logp = F.log_softmax(logits, dim=-1)                                          # (B, N)
    pi = logp.exp()
    adv = (policy_value(pi, f.detach()) - ref_value.detach()).mean()
    ent = -(pi * logp).sum(dim=-1).mean()
    bc = F.nll_loss(logp, action)
    loss = cfg.bc_weight * bc if warm else -adv - cfg.entropy * ent + cfg.bc_weight * bc
    return {"loss": loss, "advantage": adv.detach(), "entropy": ent.detach(), "bc": bc.detach()}


@torch.no_grad()
def project_norm(module: torch.nn.Module, max_norm: float) -> None:
    """Scale each submodule's ``weight`` whose L2 norm exceeds ``max_norm`` back onto that norm.

    As lightATAC's ``l2_projection``: only tensors named ``weight`` (linear, embedding and
    normalisation layers); biases and recurrent weights (``weight_ih_l0``, ...) are left alone.
    """
    for sub in module.modules():
        w = getattr(sub, "weight", None)
        if isinstance(w, torch.nn.Parameter) and w.norm() > max_norm:
            w.mul_(max_norm / w.norm())


class Reference:
    """μ(·|s) for a batch: per-user suggestions (LLM, random, oracle, ...) or, with ``None``, the data."""

    def __init__(self, items: np.ndarray | None = None, weights: np.ndarray | None = None):
        self.items = None if items is None else torch.as_tensor(items, dtype=torch.long)      # (U, K)
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float32)

    def batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K) ids and weights of the batch's users; the data reference is the logged item."""
        if self.items is None:
            return batch["action"][:, None], torch.ones(len(batch["action"]), 1)
        return self.items[batch["user"]], self.weights[batch["user"]]


class LAACLearner:
    """A critic (``q_values``), its Polyak target and an actor (``score`` logits) with one update each.

    ``critic`` and ``actor`` are ``seqrec.heads.TwoHead`` networks: the critic's Q head is f,
    the actor's supervised head gives π's logits (so the actor ranks like any Ch. 3 model).
    """

    def __init__(self, critic, actor, reference: Reference, cfg: LAACConfig):
        self.critic, self.actor, self.reference, self.cfg = critic, actor, reference, cfg
        self.target = copy.deepcopy(critic).requires_grad_(False)
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
        self.actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)

    def step(self, step: int, batch: dict) -> dict[str, float]:
        """One critic update; an actor update every ``cfg.actor_every`` steps. Returns the logged parts.

        The actor's loss reads the critic after this step's update and projection, as lightATAC does.
        """
        cfg = self.cfg
        act = step % cfg.actor_every == 0
        ref_items, ref_w = self.reference.batch(batch)
        with torch.no_grad():
            pi_next = F.softmax(self.actor(batch["next_state"], batch["len_next_state"])[0], dim=-1)
            f_next = self.target.q_values(batch["next_state"], batch["len_next_state"])
            y = td_target(batch["reward"], batch["done"], policy_value(pi_next, f_next), cfg.gamma)   # (B,)
        with torch.set_grad_enabled(act):
            logits = self.actor(batch["state"], batch["len_state"])[0]                 # (B, N)
        f = self.critic.q_values(batch["state"], batch["len_state"])                 # (B, N)
        parts = critic_loss(f, F.softmax(logits.detach(), dim=-1), batch["action"], y, ref_items, ref_w, cfg)
        self.critic_opt.zero_grad()
        parts["loss"].backward()
        self.critic_opt.step()
        project_norm(self.critic, cfg.max_critic_norm)
        polyak_update(self.target, self.critic, cfg.tau)
        logged = {f"critic/{k}": float(v.detach()) for k, v in parts.items()}
        if act:
            with torch.no_grad():
                f = self.critic.q_values(batch["state"], batch["len_state"])            # the updated critic
            a_parts = actor_loss(logits, f, batch["action"], reference_value(f, ref_items, ref_w), cfg,
                                 warm=step < cfg.warmup_steps)
            self.actor_opt.zero_grad()
            a_parts["loss"].backward()
            self.actor_opt.step()
            logged |= {f"actor/{k}": float(v.detach()) for k, v in a_parts.items()}
        return logged


def with_users(transitions: Transitions, users: np.ndarray) -> UserTransitions:
    """The same rows with each row's user index attached."""
    if len(users) != len(transitions):
        raise ValueError(f"{len(users)} users for {len(transitions)} transitions")
    base = {f.name: getattr(transitions, f.name) for f in fields(Transitions)}
    return UserTransitions(**base, user=np.asarray(users, dtype=np.int64))


def fit_laac(learner: LAACLearner, buffer, val, eval_cfg, rng: np.random.Generator, *,
             show_progress: bool = False):
    """Train with ``train.loops.run_updates``: validation-selected actor, as every offline learner."""
    from recrl_core.train import loops

    models = {"critic": learner.critic, "actor": learner.actor, "target": learner.target}
    optimizers = {"critic_opt": learner.critic_opt, "actor_opt": learner.actor_opt}
    return loops.run_updates(models, optimizers, buffer, val, learner.cfg, eval_cfg, rng, None, None,
                             show_progress, desc="LAAC", step_fn=learner.step, eval_model=lambda: learner.actor)
