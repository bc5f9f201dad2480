"""LEA on the RL side: LE states, rewards and augmented actions inside the SQN family.

The offline LE pass (``recrl_core.methods.lea.offline_pass``) gives, per training transition,
:math:`s_t^{\\text{LE}}`, :math:`r^{\\text{LE}}(p_t, a_t)` and K augmented items with
their rewards (spec-lea-equations, spec-lea-pipeline stage 3). :func:`attach_le_pass` puts them on the replay
rows; ``fusion.FusedEncoder`` fuses a *distilled student* of the LE state into the
backbone (serving reads item histories only, no LLM); and, for any of ``loops.METHODS``,

.. math::
    \\mathcal L_{\\text{LEA}} = \\mathcal L_{\\text{base}}
    + \\lambda_{\\text{aug}}\\operatorname{mean}_B\\textstyle\\sum_k \\mathcal L_s(a_k)
    + \\operatorname{mean}_B\\textstyle\\sum_k \\mathcal L_q(s_t, a_k, r_k, s')
    + w_d \\operatorname{mean}_B \\mathcal L_{\\text{distill}}

through ``loops.fit_rl(..., extra_loss=lea_extra_loss(cfg, gamma))``; in SA2C's phase 2
the augmented terms are *not* weighted by the advantage or by w_q. All of it is *(Proposed)*:
the paper's equations are not available (spec-lea-equations).

Taught in: sec-lea-grid
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import torch

from recrl_core import seeding
from recrl_core.config import Mode
from recrl_core.data.replay import ReplayBuffer
from recrl_core.data.sequences import EvalEvents
from recrl_core.data.transitions import Transitions
from recrl_core.eval import offline
from recrl_core.methods.lea.fusion import FUSIONS, FusedEncoder, distill_loss
from recrl_core.rl import targets
from recrl_core.rl.double_q import DoubleQPair, make_pair
from recrl_core.rl.sqn import supervised_loss
from recrl_core.seqrec import heads
from recrl_core.train import loops

CHOICES = {"state_fusion": FUSIONS, "le_reward": ("normalised", "shaped", "logged"),
           "reward_norm": ("sigmoid", "zscore"), "aug_next_state": ("same", "next"), "branch": ("gru",)}
VARIANTS = ("base", "state", "reward", "state+reward", "lea")   # the ablation rows (spec-lea-defaults)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """ValueError listing ``choices`` when ``value`` is not one of them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


@dataclass(frozen=True)
class LEAConfig:
    # all fields: (Proposed) unless marked; spec-lea-equations (L_LEA table), spec-lea-defaults (values), spec-uncertain (choices)
    state_fusion: str = "mlp"        # mlp: h_G + MLP([h_G; sg(s_hat)]), zero-init last layer | le_only | none
    le_reward: str = "normalised"    # the learner's r_t: normalised | shaped | logged (spec-lea-equations, spec-uncertain)
    reward_norm: str = "zscore"      # zscore (train-set mean/std, then logistic) | sigmoid (spec-lea-equations). A Bradley-
                                     # Terry reward is defined up to a constant: sigmoid(raw) depends on it
    eta: float = 0.5                 # shaped: r = r_base + eta * norm(r^LE) (spec-lea-equations, spec-lea-defaults)
    aug_k: int = 2                   # augmented actions used per transition, <= Kmax; 0 = none (spec-lea-defaults)
    lambda_aug: float = 0.5          # weight of sum_k L_s(a_k) (spec-lea-equations, spec-lea-defaults)
    aug_next_state: str = "same"     # same (s_t, d=0, as SNQN negatives) | next (s_{t+1}, d_t) (Uncertain; spec-uncertain)
    distill_weight: float = 1.0      # weight of the student's distillation loss (spec-lea-pipeline "Serving")
    branch: str = "gru"              # student branch: a GRU over the LE item vectors (spec-lea-pipeline "Serving")

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        for name, choices in CHOICES.items():
            _check_choice(name, getattr(self, name), choices)
        if self.aug_k < 0:
            raise ValueError(f"aug_k must be >= 0, got {self.aug_k}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LEAConfig":
        """The same in every mode: every field is semantics."""
        return replace(cls())


def variant(name: str, base_cfg: LEAConfig = LEAConfig()) -> LEAConfig:
    """The config of one ablation row of ``VARIANTS`` (spec-lea-defaults "Ablation grid").

    base: no fusion, logged reward, no augmentation; state: + fusion; reward: + LE reward;
    state+reward: both; lea: both + ``base_cfg.aug_k`` augmented actions. "On" means
    ``base_cfg``'s choice when it is on (e.g. shaped, le_only), else mlp / normalised.
    """
    fusion = "mlp" if base_cfg.state_fusion == "none" else base_cfg.state_fusion
    reward = "normalised" if base_cfg.le_reward == "logged" else base_cfg.le_reward
    rows = {"base": ("none", "logged", 0), "state": (fusion, "logged", 0), "reward": ("none", reward, 0),
            "state+reward": (fusion, reward, 0), "lea": (fusion, reward, base_cfg.aug_k)}
    _check_choice("variant", name, VARIANTS)
    f, r, k = rows[name]
    return replace(base_cfg, state_fusion=f, le_reward=r, aug_k=k)


@dataclass(frozen=True)
class LETransitions(Transitions):
    """:class:`Transitions` plus the LE pass's outputs; ``reward`` is the learner's reward.

    Extra shapes: ``le_state`` (E, D) float32; ``aug_actions`` (E, K) int64, best first;
    ``aug_reward`` (E, K) float32 and ``le_reward`` (E,) float32, both normalised. ``take``
    (hence ``ReplayBuffer.sample``) and ``to_torch`` carry them. Built by :func:`attach_le_pass`.
    """

    le_state: np.ndarray
    aug_actions: np.ndarray
    aug_reward: np.ndarray
    le_reward: np.ndarray


def normalise_reward(raw: np.ndarray, how: str, ref: np.ndarray | None = None) -> np.ndarray:
    """LE rewards squashed into (0, 1): the one home of the normalisation.

    .. math::
        \\text{sigmoid: } \\sigma(r), \\qquad \\text{zscore: } \\sigma\\big((r - \\mu)/\\sigma_r\\big)

    Args: raw: any shape, raw r^LE. how: "sigmoid" | "zscore". ref: zscore only, the rewards
        giving mu and sigma_r (the training set's le_reward column); None: ``raw`` itself.
    Returns: float32, the shape of ``raw``.
    Reference: spec-lea-equations "Reward" (Proposed).
    Taught in: sec-lea-grid
    """
    _check_choice("reward_norm", how, CHOICES["reward_norm"])
    z = np.asarray(raw, dtype=np.float64)
    if how == "zscore":
        ref = z if ref is None else np.asarray(ref, dtype=np.float64)
        z = (z - ref.mean()) / max(float(ref.std()), 1e-8)
    return torch.sigmoid(torch.as_tensor(z)).numpy().astype(np.float32)


def _checked(name: str, value, dtype, shape: str, sizes: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as ``dtype``; a ValueError naming the array unless its shape fits ``sizes``."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim != len(sizes) or any(n is not None and a != n for a, n in zip(arr.shape, sizes)):
        raise ValueError(f"attach_le_pass: {name} must have shape {shape} = {sizes} (None: any), got {arr.shape}")
    return arr


def attach_le_pass(transitions: Transitions, le_state, le_reward, aug_actions, aug_reward,
           cfg: LEAConfig) -> LETransitions:
    """Replay rows with the LE pass's outputs and the learner's reward chosen by ``cfg.le_reward``.

    logged: r_t unchanged; normalised: norm(r^LE); shaped: r_t + eta * norm(r^LE). The
    first ``cfg.aug_k`` augmented columns are kept, their rewards normalised the same way
    (zscore: with the le_reward column's mean and std).

    Args: transitions: E rows. le_state: (E, D); le_reward: (E,) raw; aug_actions: (E, Kmax)
        ints, Kmax >= cfg.aug_k; aug_reward: (E, Kmax) raw.
    Returns: LETransitions; ``aug_actions``/``aug_reward`` (E, cfg.aug_k).
    Reference: spec-lea-equations "Reward", "Augmented actions" (Proposed).
    Taught in: sec-lea-grid
    """
    e, k = len(transitions), cfg.aug_k
    le_state = _checked("le_state", le_state, np.float32, "(E, D)", (e, None))
    le_reward = _checked("le_reward", le_reward, np.float32, "(E,)", (e,))
    aug_actions = _checked("aug_actions", aug_actions, np.int64, "(E, Kmax)", (e, None))
    aug_reward = _checked("aug_reward", aug_reward, np.float32, "(E, Kmax)", aug_actions.shape)
    if aug_actions.shape[1] < k:
        raise ValueError(f"attach_le_pass: aug_actions has {aug_actions.shape[1]} columns, cfg.aug_k = {k}")
    if (aug_actions[:, :k] == transitions.action[:, None]).any():
        raise ValueError("attach_le_pass: an augmented action equals the logged action of its row")
    r_le = normalise_reward(le_reward, cfg.reward_norm, ref=le_reward)       # (E,) in (0, 1)
    reward = {"logged": transitions.reward, "normalised": r_le,
              "shaped": transitions.reward + cfg.eta * r_le}[cfg.le_reward]
    base = {f.name: getattr(transitions, f.name) for f in fields(Transitions)}
    return LETransitions(**base | {"reward": reward.astype(np.float32)}, le_state=le_state,
                         aug_actions=aug_actions[:, :k], le_reward=r_le,
                         aug_reward=normalise_reward(aug_reward[:, :k], cfg.reward_norm, ref=le_reward))


def augmented_supervised_loss(logits: torch.Tensor, aug_actions: torch.Tensor) -> torch.Tensor:
    """Cross-entropy summed over the augmented items: :math:`\\sum_k -\\log\\operatorname{softmax}(z_t)[a_k]`.

    Args: logits: (B, N). aug_actions: (B, K) int64. Returns: (B,) losses (0 when K = 0).
    Reference: spec-lea-equations, L_LEA (Proposed).
    Taught in: sec-lea-grid
    """
    per_item = supervised_loss(logits.unsqueeze(-1).expand(-1, -1, aug_actions.shape[1]), aug_actions)
    return per_item.sum(dim=-1)                                              # (B, K) -> (B,)


def augmented_q_loss(q: torch.Tensor, aug_actions: torch.Tensor, aug_reward: torch.Tensor,
                     q_boot_main: torch.Tensor, q_boot_target: torch.Tensor, done: torch.Tensor,
                     gamma: float) -> torch.Tensor:
    """Double-Q TD loss summed over the augmented items.

    .. math::
        y_k = r_k + \\gamma(1 - d)\\,Q_{\\text{tgt}}\\big(s', \\arg\\max_a Q_{\\text{main}}(s', a)\\big),
        \\quad \\sum_k \\tfrac12\\big(\\operatorname{sg}(y_k) - Q(s_t, a_k)\\big)^2

    Args: q: (B, N) main network's Q(s_t, .), with gradient. aug_actions, aug_reward: (B, K).
        q_boot_main, q_boot_target: (B, N) Q_main(s', .), Q_tgt(s', .); done: (B,) d; (s', d) =
        (s_t, 0) for aug_next_state "same", (s_{t+1}, d_t) for "next". Returns: (B,) losses.
    Reference: spec-lea-equations, L_LEA (Proposed).
    Taught in: sec-lea-grid
    """
    y = targets.double_q_target(aug_reward, done[:, None], q_boot_main[:, None], q_boot_target[:, None],
                                gamma)                                       # (B, K) via a K axis of 1
    return (0.5 * (y.detach() - q.gather(-1, aug_actions)) ** 2).sum(dim=-1)


def _bootstrap(how: str, main, target, batch: dict, q: torch.Tensor):
    """(Q_main(s', .) (B, N), Q_tgt(s', .) (B, N), d (B,)) for the augmented actions, no gradient."""
    with torch.no_grad():
        if how == "same":                         # as SNQN negatives: the user stays in s_t
            q_target = target.q_values(batch["state"], batch["len_state"])
            return q.detach(), q_target, torch.zeros_like(batch["done"])
        nxt = (batch["next_state"], batch["len_next_state"])
        return main.q_values(*nxt), target.q_values(*nxt), batch["done"]


def lea_extra_loss(cfg: LEAConfig, gamma: float) -> loops.ExtraLoss:
    """``extra(main, target, batch, logits, q) -> {"loss", "aug_supervised", "aug_q", "distill"}``.

    The ``extra_loss`` of ``loops.fit_rl`` (logged parts detached, present when used).
    Taught in: sec-lea-grid
    """
    def extra(main, target, batch, logits, q):
        loss, out = torch.zeros((), dtype=q.dtype, device=q.device), {}
        if cfg.aug_k > 0:
            aug, r_aug = batch["aug_actions"][:, :cfg.aug_k], batch["aug_reward"][:, :cfg.aug_k]  # (B, K)
            ls = augmented_supervised_loss(logits, aug)                      # (B,)
            boot = _bootstrap(cfg.aug_next_state, main, target, batch, q)
            lq = augmented_q_loss(q, aug, r_aug, *boot, gamma)               # (B,)
            loss = loss + cfg.lambda_aug * ls.mean() + lq.mean()
            out |= {"aug_supervised": ls.mean().detach(), "aug_q": lq.mean().detach()}
        if isinstance(main.encoder, FusedEncoder) and main.encoder.has_student:
            with torch.set_grad_enabled(cfg.distill_weight != 0.0):     # weight 0: logged, no graph
                d = distill_loss(main.encoder.student(batch["state"], batch["len_state"]),
                                 batch["le_state"]).mean()
            loss, out["distill"] = loss + cfg.distill_weight * d, d.detach()
        return {"loss": loss, **out}
    return extra


def build_pair(backbone_cfg: heads.EncoderConfig, num_items: int, item_vectors, le_dim: int,
               lea_cfg: LEAConfig, lr: float, lr_2: float | None, seed: int) -> DoubleQPair:
    """``double_q.make_pair`` with each backbone wrapped in a :class:`FusedEncoder` (seeds 2 seed, 2 seed + 1).

    With fusion "none" the networks equal Ch. 4's pair of the same seed (same draws, same order).
    """
    def fuse(backbone):
        return FusedEncoder(backbone, num_items, item_vectors, le_dim, lea_cfg.state_fusion, backbone_cfg.state_len)
    return make_pair(backbone_cfg, num_items, seed, lr, lr_2, wrap_encoder=fuse)


def fit_lea(method: str, backbone_cfg: heads.EncoderConfig, le_transitions: LETransitions, item_vectors,
            val: EvalEvents, rl_cfg, lea_cfg: LEAConfig, eval_cfg: offline.EvalConfig, seed: int,
            item_prob: np.ndarray | None = None,
            show_progress: bool = False) -> tuple[loops.FitResult, DoubleQPair]:
    """:func:`build_pair`, then ``loops.fit_rl`` with :func:`lea_extra_loss` and ``make_rng(seed)``.

    ``item_vectors`` (N, D) fix N and D; ``rl_cfg.lr_2`` is used for sa2c only, as in Ch. 4.
    Validation scores item histories only (no LE input). Returns ``(FitResult, DoubleQPair)``.
    Taught in: sec-lea-grid
    """
    num_items, le_dim = np.shape(item_vectors)
    if le_transitions.aug_actions.shape[1] < lea_cfg.aug_k:
        raise ValueError(f"fit_lea: lea_cfg.aug_k = {lea_cfg.aug_k} but the transitions carry "
                         f"{le_transitions.aug_actions.shape[1]} augmented actions (attach_le_pass with the same cfg)")
    pair = build_pair(backbone_cfg, num_items, item_vectors, le_dim, lea_cfg, rl_cfg.lr,
                      rl_cfg.lr_2 if method == "sa2c" else None, seed)
    fit = loops.fit_rl(pair, method, ReplayBuffer(le_transitions), val, rl_cfg, eval_cfg,
                       seeding.make_rng(seed), item_prob=item_prob, show_progress=show_progress,
                       extra_loss=lea_extra_loss(lea_cfg, rl_cfg.gamma))
    return fit, pair
