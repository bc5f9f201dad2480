"""LoRA through peft: attach, count, switch off for the reference, save and load.

The reference policy of PPO and GRPO is **the same model with the adapter
disabled** (``with reference_mode(policy):``), never a deep copy: no second set
of weights, and reference log-probs equal the base model's exactly
(spec-llm-conventions, tested in ``tests/unit/test_lora.py``).

Taught in: sec-lora
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch

from recrl_core.config import Mode
from recrl_core.llm import soft_prompt, trunk

LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
GPT2_TARGETS = ("c_attn",)


@dataclass(frozen=True)
class LoRAConfig:
    r: int = 16                                 # rank (Public code: Shielded RecRL lora_r)
    alpha: int = 16                             # scale alpha/r (Public code: lora_alpha)
    dropout: float = 0.0                        # 0: log-probs are computed in eval mode anyway (spec-llm-conventions)
    target_modules: tuple[str, ...] = LLAMA_TARGETS   # attention projections (spec-llm-conventions)
    layers: tuple[int, ...] | None = None       # indices of the layers that get adapters; None = every layer

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()  # the adapter is part of the method, the same in every mode

    @classmethod
    def for_mode(cls, mode: Mode) -> "LoRAConfig":
        """The same in every mode (the model it adapts is what changes size)."""
        return replace(cls())


def default_targets(model: torch.nn.Module) -> tuple[str, ...]:
    """Attention projections of the model's family: Llama/Qwen ``*_proj`` or GPT-2 ``c_attn``."""
    return GPT2_TARGETS if getattr(model.config, "model_type", "") == "gpt2" else LLAMA_TARGETS


def add_lora(model: torch.nn.Module, cfg: LoRAConfig = LoRAConfig(), seed: int = 0):
    """Wrap ``model`` in a peft LoRA model; only the ``lora_`` matrices require grad.

    Targets not present in the model (e.g. ``q_proj`` on GPT-2) fall back to
    :func:`default_targets`; ``cfg.layers`` limits the adapters to those layer indices.
    The B matrices start at zero, so the wrapped model
    computes exactly the base model's function until the first update.
    """
    from peft import LoraConfig, get_peft_model

    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    targets = [t for t in cfg.target_modules if t in names] or list(default_targets(model))
    torch.manual_seed(seed)                                   # A matrices: Kaiming-uniform init
    peft_cfg = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                          target_modules=targets, task_type="CAUSAL_LM",
                          layers_to_transform=None if cfg.layers is None else list(cfg.layers),
                          fan_in_fan_out=getattr(model.config, "model_type", "") == "gpt2")
    return get_peft_model(model, peft_cfg)


def on_top_layers(cfg: LoRAConfig, num_layers: int, adapt_layers: int | None) -> tuple[LoRAConfig, int]:
    """``cfg`` with adapters on the top ``adapt_layers`` layers only, and the split (first adapted layer).

    ``adapt_layers=None`` keeps ``cfg`` (every layer, split 0). Below the split nothing
    learns: the frozen trunk of :mod:`recrl_core.llm.trunk_rollout` (spec-shielded-trunk).
    """
    split = trunk.split_index(num_layers, adapt_layers)
    return (cfg if adapt_layers is None else replace(cfg, layers=tuple(range(split, num_layers)))), split


def trainable_parameter_names(model: torch.nn.Module) -> list[str]:
    """Names of parameters with ``requires_grad``."""
    return [n for n, p in model.named_parameters() if p.requires_grad]


def trainable_fraction(model: torch.nn.Module) -> tuple[int, int, float]:
    """``(trainable, total, trainable / total)`` with tied weights counted once."""
    unique = {id(p): p for p in model.parameters()}.values()
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    total = sum(p.numel() for p in unique)
    return trainable, total, trainable / total


def lora_parameter_count(hidden: int, layers: int, shapes: dict[str, tuple[int, int]], r: int) -> int:
    """LoRA parameters added by hand: r·(d_in + d_out) per targeted matrix per layer.

    Args:
        shapes: target name -> (d_in, d_out) of that projection.
    """
    return layers * sum(r * (d_in + d_out) for d_in, d_out in shapes.values())


@contextlib.contextmanager
def reference_mode(model):
    """Inside the block the LoRA adapter (and any soft prompt) is off: the model *is* the reference."""
    soft = soft_prompt.find(model)
    with model.disable_adapter(), (soft.disabled() if soft is not None else contextlib.nullcontext()):
        yield model


def save_adapter(model, path: Path) -> Path:
    """Write only the adapter (safetensors + adapter_config.json) to ``path``."""
    model.save_pretrained(str(path), safe_serialization=True)
    return Path(path)


def load_adapter(base_model: torch.nn.Module, path: Path, trainable: bool = False):
    """Attach a saved adapter to ``base_model``; frozen unless ``trainable``."""
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model, str(path), is_trainable=trainable)
