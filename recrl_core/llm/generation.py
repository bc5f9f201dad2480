"""Generation with documented defaults, batched, returning the tensors RL needs.

``GENERATION_DEFAULTS`` are the sampling settings of every RL rollout in the book
(spec-llm-conventions): temperature 0.7 and 40 new tokens from the Shielded RecRL
reference config, **no** top-k/top-p truncation so that the sampled tokens come
from the policy whose log-probs PPO computes, and every parameter passed
explicitly because transformers otherwise fills in ``top_k=50``.

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from recrl_core.llm import soft_prompt

GENERATION_DEFAULTS = dict(          # RL rollouts
    do_sample=True,
    temperature=0.7,                 # Shielded RecRL reference config
    top_p=1.0,                       # no nucleus truncation: samples come from pi itself
    top_k=0,                         # transformers applies top_k=50 when unset
    max_new_tokens=40,               # Shielded RecRL reference config
)                                    # no min_new_tokens, no repetition penalty
DISPLAY_GENERATION = dict(do_sample=False, max_new_tokens=60)   # text shown to readers


@dataclass
class Generated:
    """A batch of prompts and sampled responses; prompts left-padded, responses right-padded."""
    prompt_ids: torch.Tensor      # (B, P) int64
    prompt_mask: torch.Tensor     # (B, P) 1 on real prompt tokens
    response_ids: torch.Tensor    # (B, T) int64, pad after the end
    response_mask: torch.Tensor   # (B, T) float, 1 up to and including the first EOS
    texts: list[str]              # decoded responses, special tokens removed
    context: torch.Tensor | None = None   # (B, C) soft-prompt context per row (llm.soft_prompt), if any

    def __len__(self) -> int:
        return self.prompt_ids.shape[0]

    def rows(self, index) -> "Generated":
        """A sub-batch (minibatches of PPO epochs)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        context = None if self.context is None else self.context[idx.to(self.context.device)]
        return Generated(self.prompt_ids[idx], self.prompt_mask[idx], self.response_ids[idx],
                         self.response_mask[idx], [self.texts[i] for i in idx.tolist()], context)


def response_mask(response_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1.0 up to and including the first EOS of each row; rows without EOS are all valid.

    The first EOS is the model's own stop action; later positions are generate's
    padding (SmolLM2 pads with the EOS id itself, so ``ids != pad`` would be wrong).

    Args:
        response_ids: (B, T) generated tokens.
    Returns:
        (B, T) float mask.
    """
    is_eos = (response_ids == eos_id).to(torch.int64)                      # (B, T)
    eos_before = torch.cumsum(is_eos, dim=1) - is_eos                       # EOS strictly before t
    return (eos_before == 0).to(torch.float32)


def _settings(settings: dict, tokenizer) -> dict:
    kwargs = dict(settings)
    if not kwargs.get("do_sample", False):                      # greedy: no sampling knobs at all
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs | dict(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)



def teacher_forced(tokenizer, prompts: Sequence[str], responses: Sequence[str], device="cpu") -> Generated:
    """A :class:`Generated` batch of *given* replies (each + EOS) to prompts, for scoring them.

    Prompts are left-padded, replies right-padded; the mask covers each reply and its EOS.
    """
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    rows = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)      # (B, T)
    mask = torch.zeros((len(rows), width), dtype=torch.float32)                         # (B, T)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[b, :len(r)] = 1.0
    return Generated(enc["input_ids"].to(device), enc["attention_mask"].to(device), ids.to(device),
                     mask.to(device), list(responses))

@torch.no_grad()
def generate(model, tokenizer, prompts: Sequence[str], settings: dict | None = None, seed: int = 0,
             batch_size: int | None = None, context: torch.Tensor | None = None) -> Generated:
    """Sample one response per prompt, ``batch_size`` prompts per ``model.generate`` call.

    ``context`` (B, C) feeds the model's soft prompt (:mod:`recrl_core.llm.soft_prompt`),
    one row per prompt. ``torch.manual_seed(seed)`` is called immediately before generating
    (spec-determinism), so the same seed, settings and batch size give the same text
    on CPU. The model is put in eval mode (no dropout while sampling).
    """
    settings = GENERATION_DEFAULTS if settings is None else settings
    model.eval()
    device = next(model.parameters()).device
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)   # (B, P)
    step = batch_size or len(prompts)
    torch.manual_seed(seed)
    outs = []
    for start in range(0, len(prompts), step):
        rows = None if context is None else context[start:start + step]
        with soft_prompt.bind(model, rows):
            out = model.generate(input_ids=ids[start:start + step], attention_mask=mask[start:start + step],
                                 **_settings(settings, tokenizer))
        outs.append(out[:, ids.shape[1]:])                                        # (b, T_chunk)
    width = max(o.shape[1] for o in outs)
    resp = torch.cat([torch.nn.functional.pad(o, (0, width - o.shape[1]), value=tokenizer.pad_token_id)
                      for o in outs])                                             # (B, T)
    return from_responses(tokenizer, ids, mask, resp, context)


def from_responses(tokenizer, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, resp: torch.Tensor,
                   context: torch.Tensor | None = None) -> Generated:
    """A :class:`Generated` from sampled tokens (B, T): mask up to the first EOS, decoded texts."""
    rmask = response_mask(resp, tokenizer.eos_token_id)
    texts = tokenizer.batch_decode(resp * rmask.long() + tokenizer.pad_token_id * (1 - rmask.long()),
                                   skip_special_tokens=True)
    return Generated(prompt_ids, prompt_mask, resp, rmask.to(resp.device), [t.strip() for t in texts], context)


def generate_text(model, tokenizer, prompts: Sequence[str], settings: dict | None = None,
                  seed: int = 0, batch_size: int | None = None,
                  context: torch.Tensor | None = None) -> list[str]:
    """Only the decoded responses (defaults: :data:`DISPLAY_GENERATION`, greedy)."""
    return generate(model, tokenizer, prompts, settings or DISPLAY_GENERATION, seed, batch_size,
                    context).texts
