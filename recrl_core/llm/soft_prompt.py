"""A soft prompt: k vectors in the LM's embedding space, computed per example from a context vector.

An LM can read a vector that is not text — here a context ``c`` of width C — as
``k`` *soft tokens* computed by a small trainable adapter. Shielded RecRL (Ch. 7)
uses it to let its explainer read the ranker's user state and item embedding next
to the prompt text (:func:`recrl_core.methods.shielded.explanation_task.ranker_context`):

.. math::
    s(c) = e_{\\text{ph}} + W_2 \\tanh(W_1 c + b_1) + b_2 \\in \\mathbb R^{k \\times d}

The prompt text carries ``k`` copies of a rarely used placeholder token; a forward
hook on the LM's input embedding finds them and adds ``s(c) - e_ph`` to the hidden
states entering layer ``layer`` at those positions, for the rows of the current batch
(``layer = 0``: the input embeddings themselves, so their embeddings ``e_ph`` become
``s(c)``). ``W_2, b_2`` start at zero, so the untrained explainer *is* the base LM
reading placeholder tokens: the reference policy (adapter and soft prompt off,
:func:`recrl_core.llm.lora.reference_mode`) and the policy agree exactly before
training. Because the hook works on ``input_ids``, the same code serves ``generate``
(the first forward pass sees the whole prompt; cached steps see no placeholder) and
the scoring passes of PPO.

With LoRA on the top ``k`` layers only, the soft tokens enter at the first adapted
layer (``layer = L - k``): everything below stays a fixed function of the tokens, the
frozen trunk that :mod:`recrl_core.llm.trunk_rollout` computes once per prompt
(spec-shielded-trunk). :meth:`SoftPrompt.add_to` does the same addition on a cached trunk.

Taught in: sec-two-towers
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from recrl_core.llm import trunk

PLACEHOLDERS = ("<empty_output>", "<|fim_pad|>", "<unk>")   # SmolLM2, Qwen2.5, Llama/TinyLlama


def placeholder_id(tokenizer) -> tuple[str, int]:
    """The first of :data:`PLACEHOLDERS` that is one token (not EOS/pad) for ``tokenizer``."""
    for text in PLACEHOLDERS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) == 1 and ids[0] not in (tokenizer.eos_token_id, tokenizer.pad_token_id):
            return text, ids[0]
    raise ValueError(f"none of {PLACEHOLDERS} is a single token for {type(tokenizer).__name__}; "
                     "add a placeholder for this tokenizer to recrl_core.llm.soft_prompt.PLACEHOLDERS")


class SoftPrompt(nn.Module):
    """Context (B, C) -> k soft tokens (B, k, d), injected at placeholder positions.

    Args:
        lm: the causal LM (plain or peft); the hook goes on its input embedding.
        tokenizer: supplies the placeholder token.
        context_dim: C, width of the ranker context (user state ++ item embedding).
        num_tokens: k soft tokens per prompt.
        hidden: width of the adapter's hidden layer.
        layer: the decoder layer whose input receives the soft tokens (0 = the input embeddings;
            a Llama-style decoder is needed above 0).
    """

    def __init__(self, lm, tokenizer, context_dim: int, num_tokens: int = 4, hidden: int = 64,
                 seed: int = 0, layer: int = 0):
        super().__init__()
        self.text, self.token_id = placeholder_id(tokenizer)
        embedding = lm.get_input_embeddings()
        d = embedding.weight.shape[1]
        generator = torch.Generator().manual_seed(seed)
        self.num_tokens, self.dim = num_tokens, d
        self.inner = nn.Linear(context_dim, hidden)
        self.outer = nn.Linear(hidden, num_tokens * d)
        with torch.no_grad():
            bound = context_dim ** -0.5
            self.inner.weight.uniform_(-bound, bound, generator=generator)
            self.inner.bias.zero_()
            self.outer.weight.zero_()                    # s(c) = e_ph at the start: policy == reference
            self.outer.bias.zero_()
        self.to(device=embedding.weight.device)
        self.layer = layer
        self._context: torch.Tensor | None = None
        self._enabled = True
        self._pending: torch.Tensor | None = None     # (B, L) slots found by the embedding, for `layer`
        self._handles = [embedding.register_forward_hook(self._at_embedding)]
        if layer > 0:
            layers, _ = trunk.decoder_layers(trunk.decoder_of(lm))
            self._handles.append(layers[layer].register_forward_pre_hook(self._at_layer, with_kwargs=True))

    def marker(self) -> str:
        """The placeholder text to put in a prompt: k copies of the token."""
        return self.text * self.num_tokens

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """(B, C) -> (B, k, d) offsets added to the placeholder embedding."""
        hidden = torch.tanh(self.inner(context.float()))                  # (B, hidden)
        return self.outer(hidden).view(-1, self.num_tokens, self.dim)     # (B, k, d)

    def _slots(self, ids: torch.Tensor) -> torch.Tensor | None:
        """(B, L) placeholder positions of a bound, enabled batch; None when there is nothing to add."""
        if self._context is None or not self._enabled or ids.shape[1] == 1:
            return None                                                   # off, or a cached decoding step
        slots = ids == self.token_id                                      # (B, L)
        if not slots.any():
            return None
        slots &= slots.cumsum(1) <= self.num_tokens                       # the prompt's k; a sampled copy is text
        counts = slots.sum(1)
        if ids.shape[0] != self._context.shape[0] or not bool((counts == self.num_tokens).all()):
            raise ValueError(f"soft prompt: every row needs exactly {self.num_tokens} placeholder tokens "
                             f"and one context row; got counts {counts.tolist()} for "
                             f"{self._context.shape[0]} contexts")
        return slots

    def _add(self, hidden: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """(B, L, d) hidden states + s(c) - e_ph at the (B, L) slots, row-major = slot order."""
        offsets = self(self._context).to(hidden.dtype)                    # (B, k, d)
        out = hidden.clone()
        out[slots] = hidden[slots] + offsets.reshape(-1, self.dim)
        return out

    def add_to(self, hidden: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """The soft tokens added to a cached trunk: (B, L, d) input of ``layer`` for token ids (B, L)."""
        slots = self._slots(ids)
        return hidden if slots is None else self._add(hidden, slots)

    def _at_embedding(self, module, args, output):
        slots = self._slots(args[0])
        if self.layer == 0:
            return output if slots is None else self._add(output, slots)
        self._pending = slots                                             # consumed by `layer`'s input
        return output

    def _at_layer(self, module, args, kwargs):
        slots, self._pending = self._pending, None
        hidden = args[0] if args else kwargs["hidden_states"]
        if slots is None or slots.shape != hidden.shape[:2]:
            return None
        hidden = self._add(hidden, slots)
        return ((hidden,) + tuple(args[1:]), kwargs) if args else (args, kwargs | {"hidden_states": hidden})

    @contextlib.contextmanager
    def bound(self, context: torch.Tensor | None):
        """Inside the block, forward passes use ``context`` (B, C) for their B rows."""
        previous, self._context = self._context, context
        try:
            yield self
        finally:
            self._context = previous

    @contextlib.contextmanager
    def disabled(self):
        """Inside the block the placeholders stay plain tokens (the reference policy)."""
        previous, self._enabled = self._enabled, False
        try:
            yield self
        finally:
            self._enabled = previous

    def remove(self) -> None:
        """Detach the hooks from the LM (the module keeps its weights)."""
        for handle in self._handles:
            handle.remove()


def find(model) -> SoftPrompt | None:
    """The soft prompt attached to ``model`` (as ``model.soft_prompt``), if any."""
    for module in model.modules():
        if isinstance(module, SoftPrompt):
            return module
    return None


def bind(model, context: torch.Tensor | None):
    """``with bind(model, context):`` — a no-op when there is no soft prompt or no context."""
    soft = find(model) if context is not None else None
    return soft.bound(context) if soft is not None else contextlib.nullcontext()


def add_soft_prompt(lm, tokenizer, context_dim: int, num_tokens: int = 4, hidden: int = 64,
                    seed: int = 0, layer: int = 0) -> SoftPrompt:
    """Create a :class:`SoftPrompt` and register it as ``lm.soft_prompt`` (so it trains with it)."""
    soft = SoftPrompt(lm, tokenizer, context_dim, num_tokens, hidden, seed, layer)
    lm.soft_prompt = soft                  # a registered submodule: its weights require grad
    return soft
