"""Seeding. Randomness is otherwise an argument (``rng``, ``generator``).

Taught in: sec-how-to-use
"""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed ``random``, NumPy's legacy global RNG and torch (CPU and CUDA).

    With ``deterministic`` (smoke and book mode) torch is asked for
    deterministic kernels, warning instead of failing where none exists.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def make_rng(seed: int) -> np.random.Generator:
    """A fresh NumPy generator; pass it to every sampler explicitly."""
    return np.random.default_rng(seed)


def make_generator(seed: int, device: str = "cpu"):
    """A fresh ``torch.Generator`` for DataLoaders and torch sampling."""
    import torch

    return torch.Generator(device=device).manual_seed(seed)
