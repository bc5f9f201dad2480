"""Rollouts on a frozen trunk: each prompt's lower layers computed once, only the adapted top rerun.

With LoRA on the top ``k`` of ``L`` layers and the soft prompt entering at the first
adapted layer (``split = L - k``, :mod:`recrl_core.llm.soft_prompt`), everything a
prompt produces below the split — the keys and values of layers ``0 .. split-1`` and
the hidden state entering layer ``split`` — depends on its tokens alone: not on the
adapter, the soft prompt, the batch or the training step. :class:`PromptTrunks` keeps
them per prompt text. :func:`generate` then

1. assembles a batch's cached lower layers (left-padded) into a KV cache,
2. prefills only the top layers (soft prompt added at the split),
3. samples with every layer, one new token at a time, recording the hidden state
   each fed token has at the split,

so the rollout's whole trunk — prompt and response — comes out of sampling. Sampling
also yields the behaviour policy's own log-probabilities of the sampled tokens and the
last hidden states the value head reads, so the rollout needs no policy pass at all; the
reference and every PPO epoch run the top ``k`` layers alone (``llm.logprobs``, ``cut=``). Sampling is the rollout settings' own
(temperature, top-p; no top-k), seeded by an explicit generator (spec-determinism).
The cache costs ``2·split·n_kv·d_head + d`` floats per prompt token (about 40 kB
for SmolLM2-135M at k = 4).

Spec: spec-shielded-trunk. Taught in: sec-ppo-from-scratch
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from recrl_core.caching import TensorCache
from recrl_core.llm import generation, soft_prompt, trunk
from recrl_core.llm.logprobs import attention_without_cudnn, positions, sequence_inputs

SAMPLING_KEYS = {"do_sample", "temperature", "top_p", "top_k", "max_new_tokens"}


def _new_cache(decoder):
    from transformers import DynamicCache

    return DynamicCache(config=decoder.config)


class PromptTrunks:
    """Per-prompt frozen lower layers: K/V of layers ``< split`` and the hidden state entering ``split``.

    The entries depend only on the base LM's weights, so one store serves every explainer
    (seed, ablation) built on the same LM with the same split; the LM is passed per call.
    Missing prompts are filled longest first in batches (little left padding); :meth:`save`
    and :meth:`load` keep a store in a :class:`~recrl_core.caching.TensorCache`, so worker
    processes and later notebooks load the trunks instead of computing them again.

    Args:
        tokenizer: left-padding tokenizer of the LM.
        split: first adapted layer (> 0).
        batch_size: prompts per forward pass when filling.
    """

    def __init__(self, tokenizer, split: int, batch_size: int = 16):
        if split < 1:
            raise ValueError(f"split must be >= 1 for a frozen trunk (0 = every layer adapted: use "
                             f"llm.generation), got {split}")
        self.tokenizer, self.split, self.batch_size = tokenizer, split, batch_size
        self._store: dict[str, tuple[torch.Tensor, torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]] = {}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    @torch.no_grad()
    def _fill(self, lm, prompts: list[str]) -> None:
        """Compute the trunks of ``prompts``, longest first, ``batch_size`` at a time (little left padding)."""
        decoder = trunk.decoder_of(lm)
        layers, _ = trunk.decoder_layers(decoder)
        if self.split >= len(layers):
            raise ValueError(f"split {self.split} needs a decoder with more than {self.split} layers, "
                             f"this one has {len(layers)}")
        device = next(lm.parameters()).device
        sizes = [len(ids) for ids in self.tokenizer(prompts, add_special_tokens=False)["input_ids"]]
        prompts = [prompts[i] for i in sorted(range(len(prompts)), key=lambda i: -sizes[i])]   # stable
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start:start + self.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False)
            ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)      # (b, P)
            cache = _new_cache(decoder)
            embeds = lm.get_input_embeddings()(ids)
            with attention_without_cudnn():
                cut = trunk.trunk_pass(decoder, self.split, embeds, mask, positions(mask), cache=cache)
            P = ids.shape[1]
            for b, text in enumerate(chunk):
                start_b = P - int(mask[b].sum())                                            # left padding
                kv = [(cache.layers[i].keys[b, :, start_b:].clone(), cache.layers[i].values[b, :, start_b:].clone())
                      for i in range(self.split)]                                           # (n_kv, P_b, d_head)
                self._store[text] = (ids[b, start_b:].clone(), cut.hidden[b, start_b:].clone(), kv)

    def fill(self, lm, prompts: Sequence[str]) -> int:
        """Compute the trunks of every prompt not stored yet (in one canonical order); returns how many."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._store))
        if missing:
            self._fill(lm, missing)
        return len(missing)

    def save(self, store: TensorCache, key: str) -> None:
        """Write every stored trunk to ``store`` under ``key`` (one safetensors file; prompts in its meta)."""
        texts = list(self._store)
        rows = [self._store[t] for t in texts]
        tensors = {"lengths": torch.tensor([len(r[0]) for r in rows]), "ids": torch.cat([r[0] for r in rows]),
                   "hidden": torch.cat([r[1] for r in rows])}                               # (ΣP,), (ΣP, d)
        for i in range(self.split):
            tensors[f"k{i}"] = torch.cat([r[2][i][0] for r in rows], dim=1)                 # (n_kv, ΣP, d_head)
            tensors[f"v{i}"] = torch.cat([r[2][i][1] for r in rows], dim=1)
        store.save(key, tensors, {"prompts": texts, "split": self.split})

    def load(self, store: TensorCache, key: str) -> bool:
        """Add the trunks stored under ``key`` (by :meth:`save`); False if there are none.

        Raises:
            ValueError: they were cut at another layer.
        """
        got = store.load(key)
        if got is None:
            return False
        tensors, meta = got
        if meta.get("split") != self.split:
            raise ValueError(f"{store.path(key)} holds trunks cut at layer {meta.get('split')}, not {self.split}")
        ends = tensors["lengths"].cumsum(0).tolist()
        for text, end, n in zip(meta["prompts"], ends, tensors["lengths"].tolist()):
            s = slice(end - n, end)
            kv = [(tensors[f"k{i}"][:, s], tensors[f"v{i}"][:, s]) for i in range(self.split)]
            self._store.setdefault(text, (tensors["ids"][s], tensors["hidden"][s], kv))
        return True

    def batch(self, lm, prompts: Sequence[str]):
        """Left-padded ``ids`` (B, P), ``mask`` (B, P), ``hidden`` (B, P, d) and per-layer (K, V) (B, n_kv, P, d_head)."""
        prompts = list(prompts)
        missing = self.fill(lm, prompts)
        self.misses += missing
        self.hits += len(prompts) - missing
        rows = [self._store[p] for p in prompts]
        P = max(len(r[0]) for r in rows)
        ref_ids, ref_hidden, ref_kv = rows[0]
        ids = torch.full((len(rows), P), self.tokenizer.pad_token_id, dtype=ref_ids.dtype, device=ref_ids.device)
        mask = torch.zeros((len(rows), P), dtype=torch.long, device=ref_ids.device)
        hidden = ref_hidden.new_zeros((len(rows), P, ref_hidden.shape[-1]))
        kv = [(k.new_zeros((len(rows), k.shape[0], P, k.shape[2])), v.new_zeros((len(rows), v.shape[0], P, v.shape[2])))
              for k, v in ref_kv]
        for b, (r_ids, r_hidden, r_kv) in enumerate(rows):
            n = len(r_ids)
            ids[b, P - n:], mask[b, P - n:], hidden[b, P - n:] = r_ids, 1, r_hidden
            for (k, v), (rk, rv) in zip(kv, r_kv):
                k[b, :, P - n:], v[b, :, P - n:] = rk, rv
        return ids, mask, hidden, kv


def _check_settings(settings: dict) -> None:
    unknown = set(settings) - SAMPLING_KEYS
    if unknown:
        raise ValueError(f"trunk rollouts support {sorted(SAMPLING_KEYS)}; got also {sorted(unknown)}")
    if settings.get("do_sample", False) and settings.get("top_k") not in (None, 0):
        raise ValueError("trunk rollouts sample from the whole vocabulary: set top_k=0 (spec-generation-defaults)")


def next_token(logits: torch.Tensor, settings: dict, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V) last-position logits -> (B,) tokens and their (B,) log-probabilities under the policy.

    Greedy, or sampled at the settings' temperature with top-p. The log-probability is the
    untruncated policy's at that temperature (1 when greedy), as ``llm.logprobs`` scores it.
    """
    if not settings.get("do_sample", False):
        tokens = logits.argmax(-1)
        return tokens, torch.log_softmax(logits.float(), -1).gather(-1, tokens[:, None]).squeeze(1)
    probs = torch.softmax(logits.float() / settings.get("temperature", 1.0), dim=-1)     # (B, V)
    policy = probs
    top_p = settings.get("top_p", 1.0)
    if top_p is not None and top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p                                     # keep the nucleus
        probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
    # inverse-CDF draw: exact, and ~20x cheaper than torch.multinomial over a 49k vocabulary on a CPU
    cdf = probs.cumsum(-1)                                                                # (B, V)
    u = (1.0 - torch.rand((probs.shape[0], 1), generator=generator, device=probs.device)) * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, u).squeeze(1).clamp_(max=probs.shape[-1] - 1)      # u in (0, total]
    return tokens, policy.gather(-1, tokens[:, None]).squeeze(1).log()                  # no second pass over V


class _Recorder:
    """Forward pre-hook on layer ``split``: records the hidden state each decoding step feeds it."""

    def __init__(self, layer):
        self.steps: list[torch.Tensor] = []
        self.handle = layer.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        self.steps.append((args[0] if args else kwargs["hidden_states"]).detach())


@dataclass
class TrunkRollout:
    """What sampling on a frozen trunk returns; (B, T) tensors are over response tokens."""
    batch: generation.Generated
    trunk: trunk.Trunk            # input of layer ``split`` at every prompt + response position (B, P+T, d)
    logprobs: torch.Tensor        # log π(y_t) at the sampling temperature (1 for greedy), 0 on padding
    states: torch.Tensor          # (B, T, d) last hidden state before y_t (what the value head reads)


@torch.no_grad()
def generate(lm, tokenizer, prompts: Sequence[str], trunks: PromptTrunks, settings: dict | None = None,
             seed: int = 0, context: torch.Tensor | None = None) -> TrunkRollout:
    """Sample one response per prompt on cached trunks; returns the batch, its trunk, log-probs and states.

    The trunk's ``hidden`` (B, P + T, d) is the input of layer ``split`` at every prompt and
    response position (the last response token is never fed; its row is zero and no
    log-prob reads it), with the layer arguments of the scoring pass (``sequence_inputs``).
    """
    settings = dict(generation.GENERATION_DEFAULTS if settings is None else settings)
    _check_settings(settings)
    lm.eval()
    split, decoder = trunks.split, trunk.decoder_of(lm)
    layers, norm = trunk.decoder_layers(decoder)
    head = lm.get_output_embeddings()
    soft = soft_prompt.find(lm)
    if soft is not None and context is not None and soft.layer != split:
        raise ValueError(f"the soft prompt enters at layer {soft.layer} but the trunk is cut at {split}; "
                         "create it with add_soft_prompt(..., layer=split)")
    ids, mask, hidden, kv = trunks.batch(lm, prompts)                                        # (B, P), ...
    B, pos = ids.shape[0], positions(mask)
    cache = _new_cache(decoder)
    kwargs = trunk.layer_kwargs(decoder, hidden, mask, pos, cache=cache)                 # prefill mask (B, 1, P, P)
    for i, (k, v) in enumerate(kv):
        cache.update(k, v, i)                                                            # the frozen layers, cached
    generator = torch.Generator(device=ids.device).manual_seed(seed)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    recorder, finals = _Recorder(layers[split]), []
    final_hook = norm.register_forward_hook(lambda module, args, out: finals.append(out[:, -1:].detach()))
    try:
        with attention_without_cudnn(), soft_prompt.bind(lm, context):
            h = soft.add_to(hidden, ids) if soft is not None else hidden
            for layer in layers[split:]:                                                 # top prefill
                out = layer(h, **kwargs)
                h = out[0] if isinstance(out, tuple) else out
            logits = head(norm(h[:, -1:]))                                               # (B, 1, V)
            recorder.steps.clear()
            tokens, logps, finished = [], [], torch.zeros(B, dtype=torch.bool, device=ids.device)
            attn, step_pos = mask, pos[:, -1:]
            for t in range(settings["max_new_tokens"]):
                tok, logp = next_token(logits[:, -1], settings, generator)
                tok = torch.where(finished, torch.full_like(tok, pad), tok)              # padding: masked below
                tokens.append(tok)
                logps.append(logp[:, None])
                finished |= tok == eos
                if bool(finished.all()) or t + 1 == settings["max_new_tokens"]:
                    break
                attn = torch.cat([attn, attn.new_ones((B, 1))], dim=1)
                step_pos = step_pos + 1
                logits = lm(input_ids=tok[:, None], attention_mask=attn, position_ids=step_pos,
                            past_key_values=cache, use_cache=True, logits_to_keep=1).logits
    finally:
        recorder.handle.remove()
        final_hook.remove()
    resp = torch.stack(tokens, dim=1)                                                    # (B, T)
    batch = generation.from_responses(tokenizer, ids, mask, resp, context)
    states = torch.cat(finals[:len(tokens)], dim=1)                                      # (B, T, d)
    fed = recorder.steps + [hidden.new_zeros((B, 1, hidden.shape[-1]))]                 # y_0 .. y_{T-2}, then 0
    full = torch.cat([hidden] + fed, dim=1)                                              # (B, P + T, d)
    seq = sequence_inputs(batch)
    kwargs = trunk.layer_kwargs(decoder, full, seq["attention_mask"], seq["position_ids"])
    logprobs = torch.cat(logps, dim=1) * batch.response_mask                             # (B, T)
    return TrunkRollout(batch, trunk.Trunk(full, kwargs, split), logprobs, states)
