"""Short, explicit training loops: cross-entropy (CE) and the SQN family, with model selection.

Both loops draw uniform mini-batches from the replay buffer (spec-training-loop),
evaluate on the *validation* events every ``cfg.eval_every`` updates, keep the
weights with the best validation purchase NDCG@10, and can checkpoint and
resume exactly (same losses as an uninterrupted run).

Taught in: sec-next-item-task, sec-sqn-sac, sec-snqn-sa2c
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core import distributed
from recrl_core.config import Mode
from recrl_core.data import negatives
from recrl_core.data.replay import ReplayBuffer
from recrl_core.data.sequences import EvalEvents
from recrl_core.eval import offline
from recrl_core.rl import sa2c, sqn
from recrl_core.progress import bar as progress_bar
from recrl_core.rl.double_q import DoubleQPair
from recrl_core.train import checkpoint

SELECTION_METRIC = "ndcg@10/purchase"   # spec-evaluation: select on validation purchase NDCG@10
METHODS = ("sqn", "sac", "snqn", "sa2c")
# extra_loss(main, target, batch, logits, q) -> {"loss": added to the method's loss, other: logged}
ExtraLoss = Callable[..., dict[str, torch.Tensor]]


@dataclass(frozen=True)
class SupervisedConfig:
    lr: float = 0.01            # Adam (Public code: RC15 GRU.py / GRU_TH.py --lr)
    batch_size: int = 256       # (Public code: --batch_size)
    epochs: int = 30            # (Public code: RC15 GRU_TH.py --epoch)
    eval_every: int = 2000      # updates between validation runs (Public code: GRU_TH.py)
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("batch_size", "epochs", "eval_every")

    @classmethod
    def for_mode(cls, mode: Mode) -> "SupervisedConfig":
        """The same budget as SQNConfig / SA2CConfig in every mode, so CE gets equal training."""
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(epochs=10, eval_every=100),
                 Mode.SMOKE: dict(batch_size=64, epochs=1, eval_every=5)}[mode]
        return replace(cls(), **sizes)


@dataclass(frozen=True)
class SeedsConfig:
    num_seeds: int = 3          # headline numbers as mean +- std over seeds (spec-run-sizes: >= 3 in full)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("num_seeds",)

    @classmethod
    def for_mode(cls, mode: Mode) -> "SeedsConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(num_seeds=1), Mode.SMOKE: dict(num_seeds=1)}[mode]
        return replace(cls(), **sizes)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.num_seeds))


@dataclass
class FitResult:
    """What a loop returns: the log, and the validation-selected weights."""

    history: pd.DataFrame                 # one row per update (losses) and per evaluation (val metrics)
    best_step: int
    best_metric: float
    best_state: dict[str, torch.Tensor]   # weights of the selected network


def rank_selected(model: torch.nn.Module, result: FitResult, events: EvalEvents,
                  eval_cfg: offline.EvalConfig) -> offline.Ranked:
    """Load the validation-selected weights into ``model`` and rank ``events`` once (the test pass)."""
    model.load_state_dict(result.best_state)
    model.eval()
    return offline.rank_events(model, events, top_k=max(eval_cfg.ks), batch_size=eval_cfg.batch_size,
                               mask_history=eval_cfg.mask_history)


def total_steps(num_transitions: int, batch_size: int, epochs: int) -> int:
    """Updates in ``epochs`` passes of uniform sampling (at least one per epoch)."""
    return epochs * max(1, num_transitions // batch_size)


def _validate(model: torch.nn.Module, val: EvalEvents, eval_cfg: offline.EvalConfig) -> dict[str, float]:
    model.eval()
    res = offline.evaluate(model, val, ks=eval_cfg.ks, mask_history=eval_cfg.mask_history,
                           batch_size=eval_cfg.batch_size)
    model.train()
    return res


class _Selector:
    """Keeps the best validation score and a copy of the weights that achieved it."""

    def __init__(self):
        self.best_step, self.best_metric, self.best_state = -1, -np.inf, {}

    def offer(self, step: int, metrics: dict[str, float], model: torch.nn.Module) -> None:
        if metrics[SELECTION_METRIC] > self.best_metric:
            self.best_step, self.best_metric = step, metrics[SELECTION_METRIC]
            self.best_state = copy.deepcopy(model.state_dict())


def supervised_step(model, optimizer, batch: dict, world: distributed.World | None = None) -> dict[str, float]:
    """One CE update: ``mean_B -log softmax(z)[a]``; under several processes each takes its rows of
    the global batch and gradients are averaged before the step (spec-scaling-out)."""
    w = world or distributed.World()
    local = distributed.shard_rows(batch, w)
    logits, _ = model(local["state"], local["len_state"])                   # (B/P, N)
    loss = sqn.supervised_loss(logits, local["action"]).mean()
    optimizer.zero_grad()
    loss.backward()
    distributed.average_gradients(model.parameters(), w)
    optimizer.step()
    return distributed.mean_scalars({"loss": loss.item()}, w)


def fit_supervised(model, buffer: ReplayBuffer, val: EvalEvents, cfg: SupervisedConfig,
                   eval_cfg: offline.EvalConfig, rng: np.random.Generator, *,
                   checkpoint_dir: Path | None = None, stop_at_step: int | None = None,
                   show_progress: bool = False) -> FitResult:
    """Train ``model`` (a ``TwoHead``; only its supervised head) with cross-entropy."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    models, optimizers, w = {"net0": model}, {"net0": optimizer}, distributed.world()
    return run_updates(models, optimizers, buffer, val, cfg, eval_cfg, rng, checkpoint_dir, stop_at_step,
                show_progress, desc="CE", step_fn=lambda step, batch: supervised_step(model, optimizer, batch, w),
                eval_model=lambda: model)


def rl_step(pair: DoubleQPair, batch: dict, method: str, cfg, step: int, rng: np.random.Generator,
            item_prob: torch.Tensor | None = None,
            extra_loss: ExtraLoss | None = None,
            world: distributed.World | None = None) -> tuple[dict[str, float], int]:
    """One update of the SQN family on a random main network (spec-training-loop).

    ``extra_loss(main, target, batch, logits, q)`` (e.g. LEA's augmented terms,
    ``recrl_core.methods.lea.learner``) returns ``{"loss": scalar, ...}``: its ``loss`` is added
    to the method's loss before the step, the other entries are logged.
    Under several processes (``world``) every process draws the coin and the negatives for the
    whole batch from the same ``rng``, computes the loss on its rows, and the gradients are
    averaged before the step: one step on the global batch (spec-scaling-out).
    Returns the logged loss parts and the index of the network that was updated.
    """
    w = world or distributed.World()
    rows = distributed.shard(len(batch["action"]), w)
    global_actions, batch = batch["action"], distributed.shard_rows(batch, w)
    main_i, target_i = pair.roles(rng)
    main, target = pair.networks[main_i], pair.networks[target_i]
    state, len_state = batch["state"], batch["len_state"]
    with torch.no_grad():                                               # targets carry no gradient
        q_next_main = main.q_values(batch["next_state"], batch["len_next_state"])
        q_next_target = target.q_values(batch["next_state"], batch["len_next_state"])
    logits, q = main(state, len_state)                                  # (B, N), (B, N)
    args = dict(logits=logits, q=q, action=batch["action"], reward=batch["reward"], done=batch["done"],
                q_next_main=q_next_main, q_next_target=q_next_target, gamma=cfg.gamma)
    warm = step < cfg.warmup_steps
    if method == "sqn":
        parts = sqn.sqn_loss(**args)
    elif method == "sac":
        parts = sqn.sac_loss(**args, warm=warm)
    else:
        neg = torch.as_tensor(negatives.sample_negatives(global_actions.numpy(), q.shape[1],
                                                         cfg.num_negatives, rng))[rows.start:rows.stop]  # (B/P, K)
        with torch.no_grad():                 # negatives keep the state: bootstrap from s_t
            q_curr_target = target.q_values(state, len_state)
        extra = dict(neg_actions=neg, q_curr_main=q.detach(), q_curr_target=q_curr_target,
                     weight_q=cfg.weight_q, reward_negative=cfg.reward_negative)
        if method == "snqn":
            parts = sa2c.snqn_loss(**args, **extra)
        else:
            parts = sa2c.sa2c_loss(**args, **extra, clip=cfg.clip, smooth=cfg.smooth,
                                   item_prob=item_prob, phase=1 if warm else 2)
    if extra_loss is not None:
        added = extra_loss(main, target, batch, logits, q)             # {"loss": scalar, logged parts}
        logged = {k: v for k, v in added.items() if k != "loss"}
        parts = parts | logged | {"loss": parts["loss"] + added["loss"]}
    pair.step(main_i, parts["loss"], phase=2 if (method == "sa2c" and not warm) else 1,
              sync=None if w.size == 1 else lambda params: distributed.average_gradients(params, w))
    return distributed.mean_scalars({k: float(v.detach()) for k, v in parts.items()}, w), main_i


def fit_rl(pair: DoubleQPair, method: str, buffer: ReplayBuffer, val: EvalEvents, cfg,
           eval_cfg: offline.EvalConfig, rng: np.random.Generator, *, item_prob: np.ndarray | None = None,
           checkpoint_dir: Path | None = None, stop_at_step: int | None = None,
           show_progress: bool = False, extra_loss: ExtraLoss | None = None) -> FitResult:
    """Train a :class:`DoubleQPair` with ``method`` in {sqn, sac, snqn, sa2c}.

    The network evaluated is the one updated at that step (spec-training-loop).
    ``extra_loss`` is added at every step; see :func:`rl_step`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    prob = None if item_prob is None else torch.as_tensor(item_prob, dtype=torch.float32)
    last, w = {"main": 0}, distributed.world()

    def step_fn(step, batch):
        parts, last["main"] = rl_step(pair, batch, method, cfg, step, rng, prob, extra_loss, w)
        return parts

    models = {f"net{i}": net for i, net in enumerate(pair.networks)}
    optimizers = {f"opt{i}": opt for i, opt in enumerate(pair.optimizers)}
    optimizers |= {f"opt2_{i}": opt for i, opt in enumerate(pair.optimizers_phase2 or [])}
    return run_updates(models, optimizers, buffer, val, cfg, eval_cfg, rng, checkpoint_dir, stop_at_step,
                show_progress, desc=method.upper(), step_fn=step_fn,
                eval_model=lambda: pair.networks[last["main"]])


def run_updates(models, optimizers, buffer, val, cfg, eval_cfg, rng, checkpoint_dir, stop_at_step,
                show_progress, *, desc, step_fn, eval_model) -> FitResult:
    """The shared loop body of every offline learner: sample, update, evaluate, select, checkpoint.

    ``cfg`` needs ``batch_size``, ``epochs`` and ``eval_every``; ``step_fn(step, batch)`` makes
    one update and returns the logged parts; ``eval_model()`` is the scorer validated and
    selected (``models`` and ``optimizers``, by name, are what a checkpoint holds).
    Under several processes all of them run this loop on the same global batches (``step_fn``
    keeps its rows), validate the same weights, and the main process writes the checkpoint.
    """
    steps, w = total_steps(len(buffer), cfg.batch_size, cfg.epochs), distributed.world()
    selector, rows, start = _Selector(), [], 0
    # a module to carry the selected weights in and out of a checkpoint (only when checkpointing)
    best_holder = None if checkpoint_dir is None else copy.deepcopy(next(iter(models.values())))
    if checkpoint_dir is not None and (Path(checkpoint_dir) / checkpoint.STATE).is_file():
        saved = checkpoint.load(checkpoint_dir, models=models | {"best": best_holder},
                                optimizers=optimizers, rng=rng)
        start, rows = saved["step"], saved["history"]
        selector.best_step, selector.best_metric = saved["config"]["best_step"], saved["config"]["best_metric"]
        selector.best_state = copy.deepcopy(best_holder.state_dict())
    for net in models.values():
        net.train()
    end = steps if stop_at_step is None else min(stop_at_step, steps)
    for step in progress_bar(range(start, end), desc=desc, show=show_progress and w.main, leave=False):
        batch = buffer.sample(cfg.batch_size, rng).to_torch()
        rows.append({"update": step + 1, **step_fn(step, batch)})
        if (step + 1) % cfg.eval_every == 0 or step + 1 == steps:
            metrics = _validate(eval_model(), val, eval_cfg)
            rows.append({"update": step + 1, **{f"val/{k}": v for k, v in metrics.items()}})
            selector.offer(step + 1, metrics, eval_model())
    if checkpoint_dir is not None:
        if selector.best_state:
            best_holder.load_state_dict(selector.best_state)
        if w.main:                                   # identical on every process: one writer
            checkpoint.save(checkpoint_dir, models=models | {"best": best_holder}, optimizers=optimizers,
                            rng=rng, step=end, history=rows,
                            config={"cfg": asdict(cfg), "best_step": selector.best_step,
                                    "best_metric": float(selector.best_metric)})
        distributed.barrier(w)
    return FitResult(history=pd.DataFrame(rows), best_step=selector.best_step,
                     best_metric=float(selector.best_metric), best_state=selector.best_state)
