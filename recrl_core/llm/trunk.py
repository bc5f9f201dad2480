"""A frozen trunk and an adapted top: run the lower layers once, train only the upper ones.

When LoRA sits only on the top ``k`` of a decoder's ``L`` layers and nothing below
them learns (the LM and the item tokens are frozen), the input to layer ``L - k`` is
a fixed function of the token tree. :func:`trunk_pass` computes it once, together
with everything the decoder hands each layer (attention mask, rotary position
embeddings); :func:`top_pass` later runs only layers ``L - k .. L - 1`` and the final
norm on it, with gradient. Every epoch after the first then costs ``k`` layers forward
and backward instead of ``L`` — the difference between a few and a few dozen LE
epochs on a CPU.

``top_pass(trunk_pass(x)) == decoder(x).last_hidden_state`` (tested, and asserted in
sec-llm-environment and sec-ppo-from-scratch). With ``split = 0`` the trunk is just the
input embeddings and the top is the whole decoder. PPO uses the same split
(:mod:`recrl_core.llm.trunk_rollout`): policy, value head, reference and every epoch
read one trunk per rollout.

Taught in: sec-llm-environment, sec-ppo-from-scratch
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class _Stop(Exception):
    """Raised by the capture hook: nothing above the split needs computing."""


@dataclass
class Trunk:
    """The input of the first adapted layer and the keyword arguments every layer receives.

    ``hidden``: (B, L, d), no gradient. ``kwargs``: the decoder's per-layer arguments
    (attention mask, position ids, rotary ``position_embeddings``), captured as passed.
    ``split``: the layer ``hidden`` enters.
    """

    hidden: torch.Tensor
    kwargs: dict
    split: int = 0

    def rows(self, index) -> "Trunk":
        """The trunk of a sub-batch: every per-row tensor (first dim B) sliced, shared ones kept."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.hidden.device)
        B = self.hidden.shape[0]

        def take(value):
            if isinstance(value, torch.Tensor) and value.dim() >= 2 and value.shape[0] == B:
                return value[idx]
            if isinstance(value, tuple):
                return tuple(take(v) for v in value)
            return value

        return Trunk(self.hidden[idx], {k: take(v) for k, v in self.kwargs.items()}, self.split)


def decoder_of(lm: nn.Module) -> nn.Module:
    """The decoder (``LlamaModel``-style, no LM head) inside a causal LM, peft-wrapped or not."""
    core = lm.get_base_model() if hasattr(lm, "get_base_model") else lm
    return core.base_model


def decoder_layers(decoder: nn.Module) -> tuple[nn.ModuleList, nn.Module]:
    """``(layers, final_norm)`` of a Llama/Qwen/Mistral-style decoder (``.layers``, ``.norm``)."""
    if not (hasattr(decoder, "layers") and hasattr(decoder, "norm")):
        raise ValueError(f"{type(decoder).__name__} has no .layers/.norm: the LE's frozen-trunk training "
                         "supports Llama-style decoders (SmolLM2, Qwen2, TinyLlama); use a Llama-family LM")
    return decoder.layers, decoder.norm


def split_index(num_layers: int, adapt_layers: int | None) -> int:
    """First adapted layer: ``num_layers - adapt_layers``, or 0 for None (every layer adapted)."""
    if adapt_layers is None:
        return 0
    if not 1 <= adapt_layers <= num_layers:
        raise ValueError(f"adapt_layers must be in [1, {num_layers}] (or None for all), got {adapt_layers}")
    return num_layers - adapt_layers


@torch.no_grad()
def layer_kwargs(decoder: nn.Module, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None,
                 position_ids: torch.Tensor, cache=None) -> dict:
    """What the decoder passes every layer for these inputs (mask, rotary embeddings, cache), no layer run.

    Args: inputs_embeds: (B, L, d) (only shape, dtype and device are read). attention_mask: (B, L)
        or (B, 1, L, L). position_ids: (B, L). cache: a ``DynamicCache`` the layers should write to.
    """
    return trunk_pass(decoder, 0, inputs_embeds, attention_mask, position_ids, cache=cache).kwargs


@torch.no_grad()
def trunk_pass(decoder: nn.Module, split: int, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None,
               position_ids: torch.Tensor, cache=None) -> Trunk:
    """Run ``decoder`` up to layer ``split`` and capture that layer's inputs.

    Args: inputs_embeds: (B, L, d). attention_mask: (B, 1, L, L) additive, (B, L), or None (causal).
        position_ids: (B, L). cache: a ``DynamicCache`` filled by the layers below ``split``
        (and passed on to the layers above); None runs without one.
    Returns: :class:`Trunk` with ``hidden`` (B, L, d).
    """
    layers, _ = decoder_layers(decoder)
    captured: dict = {}

    def grab(module, args, kwargs):
        captured["hidden"] = args[0] if args else kwargs.pop("hidden_states")
        captured["kwargs"] = dict(kwargs)
        raise _Stop

    handle = layers[split].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        decoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                past_key_values=cache, use_cache=cache is not None)
    except _Stop:
        pass
    finally:
        handle.remove()
    return Trunk(captured["hidden"].detach(), captured["kwargs"], split)


def top_pass(decoder: nn.Module, split: int, trunk: Trunk) -> torch.Tensor:
    """Layers ``split ..`` and the final norm on a cached trunk: (B, L, d) last hidden states, with gradient."""
    layers, norm = decoder_layers(decoder)
    hidden = trunk.hidden
    for layer in layers[split:]:
        out = layer(hidden, **trunk.kwargs)
        hidden = out[0] if isinstance(out, tuple) else out
    return norm(hidden)
