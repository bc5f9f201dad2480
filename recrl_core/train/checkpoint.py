"""Checkpoints that resume a run exactly: safetensors for tensors, JSON for everything else.

A checkpoint is a folder with ``tensors.safetensors`` (model weights, optimizer
moments, the torch RNG state) and ``state.json`` (config, step, optimizer
hyper-parameters, the NumPy generator state, logged history). Nothing is
pickled, so loading a checkpoint never runs code from the file. The folder is
written beside its destination and renamed into place: an interrupted save
never leaves a half-written checkpoint.

Taught in: sec-sqn-sac
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from recrl_core.data.files import atomic_dir

TENSORS, STATE = "tensors.safetensors", "state.json"


def _optimizer_parts(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer state dict into tensors (moments, step counters) and JSON (hyper-parameters)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for param_id, slots in state["state"].items():
        for key, value in slots.items():
            slot = f"optim.{name}.{param_id}.{key}"
            if torch.is_tensor(value):
                tensors[slot] = value.detach().clone().contiguous()
            else:
                scalars[slot] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    prefix = f"optim.{name}."
    for slot, value in list(tensors.items()) + list(meta["scalars"].items()):
        if slot.startswith(prefix):
            param_id, key = slot[len(prefix):].split(".", 1)
            state.setdefault(int(param_id), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save(path: Path, *, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
         rng: np.random.Generator, step: int, config: dict, history: list[dict]) -> Path:
    """Write a resumable checkpoint folder at ``path`` (replacing an older one atomically)."""
    path = Path(path)
    tensors = {f"model.{name}.{key}": value.detach().clone().contiguous()
               for name, model in models.items() for key, value in model.state_dict().items()}
    meta = {}
    for name, optimizer in optimizers.items():
        opt_tensors, meta[name] = _optimizer_parts(name, optimizer)
        tensors |= opt_tensors
    tensors["rng.torch"] = torch.get_rng_state()
    state = {"step": step, "config": config, "optimizers": meta, "history": history,
             "numpy_rng": rng.bit_generator.state}
    with atomic_dir(path) as staging:
        save_file(tensors, str(staging / TENSORS))
        (staging / STATE).write_text(json.dumps(state, indent=1, default=_json_default) + "\n")
    return path


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"checkpoint state: {type(value).__name__} is not JSON-serialisable")


def load(path: Path, *, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
         rng: np.random.Generator) -> dict:
    """Restore models, optimizers and both RNGs in place; returns ``{"step", "config", "history"}``.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        ValueError: the checkpoint does not fit the given models (names or shapes differ).
    """
    path = Path(path)
    if not (path / TENSORS).is_file() or not (path / STATE).is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (expected {TENSORS} and {STATE})")
    tensors = load_file(str(path / TENSORS))
    state = json.loads((path / STATE).read_text())
    for name, model in models.items():
        prefix = f"model.{name}."
        weights = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            model.load_state_dict(weights)
        except RuntimeError as err:
            raise ValueError(f"{path}: checkpoint does not fit model '{name}': {err}") from err
    for name, optimizer in optimizers.items():
        _restore_optimizer(name, optimizer, tensors, state["optimizers"][name])
    torch.set_rng_state(tensors["rng.torch"])
    rng.bit_generator.state = state["numpy_rng"]
    return {"step": state["step"], "config": state["config"], "history": state["history"]}
