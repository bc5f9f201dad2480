"""Two complete Q-networks whose main/target roles are drawn at random every step.

The double-Q mechanics of the SQN-family reference code (spec-sqn):

1. There are two complete networks, QN1 and QN2, each with its own encoder,
   supervised head and Q head.
2. At every step one is chosen uniformly at random as **main** (the one
   updated); the other is **target**.
3. The target network gives :math:`Q_{\\text{tgt}}(s', \\cdot)`; the main network
   gives the argmax selector (see :func:`recrl_core.rl.targets.double_q_target`).
4. Only the main network takes a gradient step.
5. There is **no Polyak averaging and no periodic copy**: both networks keep
   learning, on alternating (random) batches.

Taught in: sec-recommendation-as-mdp
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from recrl_core.seqrec import heads


def pick_roles(rng: np.random.Generator) -> tuple[int, int]:
    """``(main_index, target_index)``: a fair coin decides which of the two networks is main.

    Reference: spec-sqn "Double-Q mechanics", step 2; spec-training-loop.
    Taught in: sec-recommendation-as-mdp
    """
    main = int(rng.integers(0, 2))
    return main, 1 - main


class DoubleQPair:
    """Two networks with one Adam optimizer each (plus an optional phase-2 Adam each).

    Each network is an ``nn.Module`` whose ``forward(items (B, T), lengths (B,))``
    returns ``(logits (B, N), q_values (B, N))``. Nothing is copied between them.

    Args:
        net_1, net_2: the two complete networks (encoder + both heads each).
        lr: learning rate of the per-network Adam (Public code: ``--lr``).
        lr_2: learning rate of a second Adam per network, used after the
            warm-up (SA2C phase 2: ``--lr_2``; SAC's SASRec files use a second
            Adam at ``lr``). ``None``: no second optimizer,
            ``optimizers_phase2`` is empty.
    Reference: Xin et al., SIGIR 2020; spec-sqn, spec-training-loop.
    Taught in: sec-recommendation-as-mdp
    """

    def __init__(self, net_1: nn.Module, net_2: nn.Module, lr: float, lr_2: float | None = None):
        self.networks: list[nn.Module] = [net_1, net_2]
        self.optimizers: list[torch.optim.Optimizer] = [
            torch.optim.Adam(net.parameters(), lr=lr) for net in self.networks]
        self.optimizers_phase2: list[torch.optim.Optimizer] = [] if lr_2 is None else [
            torch.optim.Adam(net.parameters(), lr=lr_2) for net in self.networks]

    def roles(self, rng: np.random.Generator) -> tuple[int, int]:
        """``(main_index, target_index)`` for this step; see :func:`pick_roles`."""
        return pick_roles(rng)

    def step(self, main_index: int, loss: torch.Tensor, phase: int = 1,
             sync: Callable[[Iterable[nn.Parameter]], None] | None = None) -> None:
        """Backpropagate ``loss`` and update the main network only (phase 2: its second optimizer).

        ``sync(parameters)`` runs between ``backward`` and the step (e.g. averaging gradients over
        processes, ``recrl_core.distributed.average_gradients``).
        """
        optimizer = (self.optimizers if phase == 1 else self.optimizers_phase2)[main_index]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if sync is not None:
            sync(self.networks[main_index].parameters())
        optimizer.step()


def make_pair(cfg: heads.EncoderConfig, num_items: int, seed: int, lr: float, lr_2: float | None = None, *,
              wrap_encoder: Callable[[nn.Module], nn.Module] | None = None) -> DoubleQPair:
    """Two :func:`recrl_core.seqrec.heads.make_net` networks seeded ``2 seed`` and ``2 seed + 1``.

    The book's convention for run ``seed`` of an SQN-family learner: the CE baseline of the
    same seed starts from the first network's weights. ``lr``, ``lr_2``: see :class:`DoubleQPair`;
    ``wrap_encoder``: see ``make_net``.
    Taught in: sec-sqn-sac
    """
    nets = [heads.make_net(cfg, num_items, net_seed, wrap_encoder=wrap_encoder)
            for net_seed in (2 * seed, 2 * seed + 1)]
    return DoubleQPair(*nets, lr=lr, lr_2=lr_2)
