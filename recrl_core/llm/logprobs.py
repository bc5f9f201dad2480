"""Per-token log-probabilities of given continuations, and the value head PPO needs.

For a prompt ``x`` (left-padded, P tokens) and response ``y`` (right-padded, T
tokens) the logits at position P-1+t predict ``y_t``. Log-probs are taken from
logits divided by the sampling temperature, in eval mode (spec-llm-conventions);
otherwise the k1 KL estimate goes negative on average.

Taught in: sec-lm-as-policy, sec-ppo-from-scratch
"""

from __future__ import annotations

import torch
from torch import nn

from recrl_core.llm import soft_prompt
from recrl_core.llm.generation import Generated
from recrl_core.llm.trunk import Trunk, decoder_of, top_pass


def sequence_inputs(batch: Generated) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``position_ids`` of prompt + response.

    Positions count real tokens only (left padding gets position 1, as in
    transformers' ``generate``), so scoring sees the same positions as sampling.
    """
    ids = torch.cat([batch.prompt_ids, batch.response_ids], dim=1)                   # (B, P+T)
    mask = torch.cat([batch.prompt_mask, batch.response_mask.to(batch.prompt_mask.dtype)], dim=1)
    return dict(input_ids=ids, attention_mask=mask, position_ids=positions(mask))


def positions(mask: torch.Tensor) -> torch.Tensor:
    """(B, L) position ids counting real tokens only, left padding at 1 (as ``generate`` does)."""
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


# cuDNN's fused attention (torch's default SDPA backend for bf16 on recent NVIDIA GPUs) returns NaN
# *gradients* for the fully masked query rows that left padding creates; the forward pass looks fine.
# Measured on an H100 (torch 2.11): 10 of 10 LoRA gradient tensors NaN with the default choice, none
# with the memory-efficient or math kernels (tests/gpu/test_cuda_llm.py). So scoring and training
# exclude the cuDNN backend; on CPU this changes nothing.
_SAFE_SDPA = ("EFFICIENT_ATTENTION", "FLASH_ATTENTION", "MATH")


def attention_without_cudnn():
    """Context: SDPA may use any kernel but cuDNN's (see above); used wherever LM gradients are taken."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([getattr(SDPBackend, name) for name in _SAFE_SDPA])


def _response_outputs(model, batch: Generated, hidden: bool, cut: Trunk | None = None):
    """(B, T, V) fp32 logits predicting the response, and (B, T, d) last hidden states if ``hidden``."""
    T = batch.response_ids.shape[1]
    if cut is not None:
        return _top_outputs(model, batch, cut, hidden)
    with attention_without_cudnn(), soft_prompt.bind(model, batch.context):
        out = model(**sequence_inputs(batch), logits_to_keep=T + 1, output_hidden_states=hidden)
    logits = out.logits[:, :-1].float()                                             # (B, T, V)
    states = out.hidden_states[-1][:, -T - 1:-1] if hidden else None                 # (B, T, H)
    return logits, states


def _top_outputs(model, batch: Generated, cut: Trunk, hidden: bool):
    """The same outputs from a cached trunk (``llm.trunk_rollout``): only layers ``cut.split ..`` run."""
    T = batch.response_ids.shape[1]
    h = cut.hidden
    soft = soft_prompt.find(model)
    if soft is not None and batch.context is not None:
        if soft.layer != cut.split:
            raise ValueError(f"the soft prompt enters at layer {soft.layer}, the trunk is cut at {cut.split}")
        with soft.bound(batch.context):
            h = soft.add_to(h, torch.cat([batch.prompt_ids, batch.response_ids], dim=1))
    with attention_without_cudnn():
        last = top_pass(decoder_of(model), cut.split, Trunk(h, cut.kwargs, cut.split))   # (B, P+T, d)
    states = last[:, -T - 1:-1]                                                         # (B, T, d)
    return model.get_output_embeddings()(states).float(), (states if hidden else None)


def gather_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float) -> torch.Tensor:
    """log softmax(logits / τ) at ``tokens``: (B, T, V), (B, T) -> (B, T)."""
    logp = torch.log_softmax(logits / temperature, dim=-1)
    return logp.gather(-1, tokens[..., None]).squeeze(-1)


def token_logprobs(model, batch: Generated, temperature: float = 1.0, cut: Trunk | None = None) -> torch.Tensor:
    """(B, T) log π(y_t | x, y_<t), 0 on response padding. Gradient flows if enabled.

    ``cut``: the batch's frozen trunk (``llm.trunk_rollout``); only the layers above it run.
    """
    logits, _ = _response_outputs(model, batch, hidden=False, cut=cut)
    return gather_logprobs(logits, batch.response_ids, temperature) * batch.response_mask


def sequence_logprob(model, batch: Generated, temperature: float = 1.0) -> torch.Tensor:
    """(B,) log π(y | x): the sum of the token log-probs over the valid response."""
    return token_logprobs(model, batch, temperature).sum(dim=1)


class PolicyWithValue(nn.Module):
    """A (LoRA) causal LM plus a scalar value head on its last hidden state.

    ``forward`` returns per-token log-probs, values V(t) (the state before y_t is
    emitted) and entropies (detached, for logging), all (B, T) and zero on padding; with
    ``cut`` (a frozen trunk of the batch) only the adapted top layers run. The value head is the
    only non-LoRA trainable part (besides a soft prompt).
    """

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm
        hidden = lm.config.hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)           # V = bias = 0 at the start
        nn.init.zeros_(self.value_head.bias)
        ref = next(lm.parameters())
        self.value_head.to(device=ref.device)

    def forward(self, batch: Generated, temperature: float = 1.0, cut: Trunk | None = None):
        logits, states = _response_outputs(self.lm, batch, hidden=True, cut=cut)
        mask = batch.response_mask
        logp_all = torch.log_softmax(logits / temperature, dim=-1)                     # (B, T, V), once
        logprobs = logp_all.gather(-1, batch.response_ids[..., None]).squeeze(-1) * mask   # (B, T)
        values = self.values(states, mask)                                            # (B, T)
        with torch.no_grad():                          # logged only: no extra (B, T, V) graph
            entropy = -(logp_all.exp() * logp_all).sum(-1) * mask                     # (B, T)
        return logprobs, values, entropy

    def values(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, d) last hidden states before each token -> (B, T) V(t), 0 on padding."""
        return self.value_head(states.float()).squeeze(-1) * mask
