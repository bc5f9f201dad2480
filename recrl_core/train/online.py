"""Online A2C against a vectorised simulator: act, observe, one update per step.

``num_envs`` sessions run side by side. At every step the policy samples one
item per session (never an item the session has seen), the simulator responds,
and one A2C update is taken on those ``num_envs`` transitions
(:func:`recrl_core.rl.actor_critic.a2c_loss`). A session that ends is replaced
at once by a new one (a new user, drawn from the training ``rng``), so every
update sees a full batch.

Taught in: sec-online-a2c
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core.config import Mode
from recrl_core.rl import actor_critic


@dataclass(frozen=True)
class A2CConfig:
    gamma: float = 0.9            # discount (Proposed; spec-ialp-losses)
    lr: float = 1e-3              # Adam, actor and critic (Proposed; spec-ialp-losses)
    entropy_coef: float = 0.01    # beta_H (Proposed; spec-ialp-losses)
    num_envs: int = 256           # sessions in parallel = transitions per update (Proposed; spec-ialp-losses batch)
    updates: int = 20_000         # environment steps = updates (Proposed; ~5-10k sessions per 1k updates)
    hidden_size: int = 64         # H (Proposed)
    encoder: str = "mean"         # "mean" | "gru" state tracker (Proposed; EasyRL4Rec StateTracker)
    max_grad_norm: float = 1.0    # gradient-norm clip (Proposed)
    log_every: int = 100          # updates per row of the loss log
    seed: int = 0                 # network init, episode seeds, action sampling

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("num_envs", "updates", "hidden_size", "log_every")

    @classmethod
    def for_mode(cls, mode: Mode) -> "A2CConfig":
        """Full = the defaults; book and smoke shrink only ``SIZE_FIELDS``."""
        sizes = {Mode.FULL: {},
                 Mode.BOOK: dict(num_envs=64, updates=4_000, log_every=50),
                 Mode.SMOKE: dict(num_envs=16, updates=40, hidden_size=16, log_every=10)}[mode]
        return replace(cls(), **sizes)


@dataclass
class A2CResult:
    episodes: pd.DataFrame   # one row per finished session: episode, update, return, length, left
    losses: pd.DataFrame     # one row per log_every updates: update, loss, policy, value, entropy, td_error


def as_tensors(obs: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched observation -> (items (B, L), feedback (B, L), lengths (B,)) tensors."""
    return (torch.as_tensor(obs["items"]), torch.as_tensor(obs["feedback"]),
            torch.as_tensor(obs["length"]))


def sample_actions(logits: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """(B,) one draw per row from softmax(logits), by inverting the CDF with ``rng``.

    Masked items have probability exactly 0 and are never drawn.
    """
    probs = torch.softmax(logits.detach().double(), dim=-1).numpy()           # (B, N)
    cdf = probs.cumsum(axis=1)
    u = rng.random(len(cdf))[:, None] * cdf[:, -1:]                          # (B, 1), below the total mass
    return (cdf < u).sum(axis=1)


class A2CPolicy:
    """A trained :class:`~recrl_core.rl.actor_critic.ActorCritic` as a policy for rollouts.

    Args:
        net: the network.
        greedy: pick the most likely unseen item instead of sampling.
    """

    def __init__(self, net: actor_critic.ActorCritic, greedy: bool = False):
        self.net, self.greedy = net, greedy

    def act(self, env, rng: np.random.Generator) -> np.ndarray:
        with torch.no_grad():
            logits, _ = self.net(*as_tensors(env.observation()), seen=torch.tensor(env.seen))
        return logits.argmax(dim=1).numpy() if self.greedy else sample_actions(logits, rng)


def _new_seeds(rng: np.random.Generator, n: int) -> list[int]:
    return [int(s) for s in rng.integers(0, 2**63, size=n)]


def a2c_step(net, optimizer, obs, env, cfg: A2CConfig, rng: np.random.Generator):
    """Act in every session, step the simulator, take one A2C update.

    Returns:
        ``(next_obs, reward (B,), terminated (B,), truncated (B,), parts)``, with
        ``parts`` the detached loss terms as floats.
    """
    logits, values = net(*as_tensors(obs), seen=torch.tensor(env.seen))       # a copy: step() edits seen
    action = sample_actions(logits, rng)
    next_obs, reward, terminated, truncated, _ = env.step(action)
    with torch.no_grad():
        _, next_values = net(*as_tensors(next_obs))                          # (B,) V(s_{t+1})
    out = actor_critic.a2c_loss(logits, values, next_values, torch.as_tensor(action),
                                torch.as_tensor(reward, dtype=torch.float32),
                                torch.as_tensor(terminated, dtype=torch.float32), cfg.gamma, cfg.entropy_coef)
    optimizer.zero_grad()
    out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
    optimizer.step()
    return next_obs, reward, terminated, truncated, {k: v.item() for k, v in out.items()}


def fit_a2c(env, net: actor_critic.ActorCritic, cfg: A2CConfig, rng: np.random.Generator,
            progress: bool = False) -> A2CResult:
    """Train ``net`` online for ``cfg.updates`` steps of ``cfg.num_envs`` sessions.

    Args:
        env: a vectorised simulator; it is reset here.
        net: the actor-critic, initialised by the caller (seed torch first).
        cfg: sizes and hyperparameters.
        rng: draws the users' episode seeds and the actions; the same rng state and
            the same initial network give the same run.
        progress: show a progress bar (``TQDM_DISABLE=1`` hides it anyway; see ``recrl_core.progress``).
    Returns:
        :class:`A2CResult`.
    Reference: Mnih et al., ICML 2016; spec-ialp-losses.
    Taught in: sec-online-a2c
    """
    from recrl_core.progress import bar as progress_bar

    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    obs, _ = env.reset(_new_seeds(rng, cfg.num_envs))
    returns, lengths = np.zeros(cfg.num_envs), np.zeros(cfg.num_envs, dtype=np.int64)
    episodes, losses, window = [], [], []
    for update in progress_bar(range(1, cfg.updates + 1), desc="A2C", show=progress, leave=False):
        obs, reward, terminated, truncated, parts = a2c_step(net, optimizer, obs, env, cfg, rng)
        returns, lengths = returns + reward, lengths + 1
        window.append(parts)
        ended = np.flatnonzero(terminated | truncated)
        for row in ended:
            episodes.append({"episode": len(episodes) + 1, "update": update, "return": returns[row],
                             "length": int(lengths[row]), "left": bool(terminated[row])})
        if len(ended):
            returns[ended], lengths[ended] = 0.0, 0
            obs, _ = env.reset(_new_seeds(rng, len(ended)), slots=ended)
        if update % cfg.log_every == 0:
            losses.append({"update": update} | pd.DataFrame(window).mean().to_dict())
            window = []
    return A2CResult(episodes=pd.DataFrame(episodes, columns=["episode", "update", "return", "length", "left"]),
                     losses=pd.DataFrame(losses))
