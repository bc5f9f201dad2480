"""Device choice: chosen, never assumed (cuda -> mps -> cpu).

Smoke and book mode call ``pick_device(prefer_gpu=False)`` so published numbers
are CPU numbers; full mode prefers a GPU.
"""

from __future__ import annotations

import os
import platform


def pick_device(prefer_gpu: bool = False) -> str:
    """Return ``"cuda"``, ``"mps"`` or ``"cpu"``; only a GPU when ``prefer_gpu`` is set and one works."""
    import torch

    if prefer_gpu and torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if prefer_gpu and mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def describe() -> str:
    """A short description of the hardware a run used."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores"
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def set_threads(n: int | None = None) -> int:
    """Pin torch's intra-op threads (default: all cores); returns the count in use."""
    import torch

    torch.set_num_threads(n or os.cpu_count() or 1)
    return torch.get_num_threads()
