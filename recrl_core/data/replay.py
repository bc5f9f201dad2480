"""A replay buffer over logged transitions, sampled with an explicit ``rng``.

Taught in: sec-transitions
"""

from __future__ import annotations

import numpy as np

from recrl_core.data.transitions import Transitions


class ReplayBuffer:
    """Uniform sampling with replacement from a fixed set of transitions (offline RL)."""

    def __init__(self, transitions: Transitions):
        if len(transitions) == 0:
            raise ValueError("ReplayBuffer: no transitions (empty training split?)")
        self.transitions = transitions

    def __len__(self) -> int:
        return len(self.transitions)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        """``batch_size`` transitions drawn uniformly with replacement."""
        index = rng.integers(0, len(self.transitions), size=batch_size)
        return self.transitions.take(index)

    def epoch(self, batch_size: int, rng: np.random.Generator):
        """Yield shuffled mini-batches covering every transition once (the last may be smaller)."""
        order = rng.permutation(len(self.transitions))
        for start in range(0, len(order), batch_size):
            yield self.transitions.take(order[start:start + batch_size])
