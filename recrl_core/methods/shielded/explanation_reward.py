"""The composite explanation reward of Shielded RecRL, each term in [0, 1].

The public code scores an explanation with three capped counts:
``min(words/40, 0.5) + min(0.1·#keywords, 0.3) + min(0.1·#sentences, 0.2)``
(spec-shielded-reward). The book keeps the three ideas, puts each term on [0, 1]
and weights them, and adds a factuality penalty:

.. math::
    R = w_\\text{len}\\,r_\\text{len} + w_\\text{rel}\\,r_\\text{rel}
        + w_\\text{coh}\\,r_\\text{coh} - w_\\text{fact}\\,p_\\text{fact}

* length: full credit inside a word range, linear on either side;
* relevance: MiniLM cosine of the explanation with the item text and with the
  user's history, clipped at 0 and averaged;
* coherence: the mean of fluency (mean token log-prob under the frozen
  reference LM, mapped to [0, 1]) and consistency (share of sentences with at
  least 3 words times the share of distinct sentences);
* factuality: genres the text names that the item does not have.

Taught in: sec-explanation-reward
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core.config import Mode
from recrl_core.data.genre_words import false_genres
from recrl_core.llm import generation, lora
from recrl_core.llm import prompts as prompt_lib
from recrl_core.llm.embeddings import embed_texts
from recrl_core.llm.logprobs import attention_without_cudnn, gather_logprobs

FLUENCY_PROMPT = "Explain why a user might enjoy a movie."     # neutral prompt of the fluency score
TERM_WEIGHTS = {"length": "w_length", "relevance": "w_relevance",
                "coherence": "w_coherence", "factuality": "w_factuality"}


@dataclass(frozen=True)
class ExplanationContext:
    """What the reward knows about one prompt."""
    item_title: str
    item_genres: tuple[str, ...]
    item_text: str            # "Shrek (2001). Genres: Adventure, Animation, ... Tags: ..."
    profile_text: str         # the user's history as text (titles with genres)


@dataclass(frozen=True)
class RewardConfig:
    length_range: tuple[int, int] = (20, 40)   # words with full credit (Public code saturates at 20 words)
    w_length: float = 0.3          # (Proposed; the public code's caps were 0.5 / 0.3 / 0.2)
    w_relevance: float = 0.4       # (Proposed)
    w_coherence: float = 0.3       # (Proposed)
    w_factuality: float = 0.5      # penalty weight (Proposed)
    fluency_range: tuple[float, float] = (-5.0, -1.5)  # mean token log-prob (nats) -> 0..1 (Proposed)
    min_sentence_words: int = 3    # a sentence counts with >= 3 words (Public code)
    max_false_genres: int = 2      # the penalty saturates here (Proposed)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        lo, hi = self.length_range
        if not 0 < lo <= hi:
            raise ValueError(f"length_range needs 0 < lo <= hi, got {self.length_range}")
        if not self.fluency_range[0] < self.fluency_range[1]:
            raise ValueError(f"fluency_range needs lo < hi, got {self.fluency_range}")
        if self.max_false_genres < 1:
            raise ValueError(f"max_false_genres must be >= 1, got {self.max_false_genres}")

    @classmethod
    def for_mode(cls, mode: Mode) -> "RewardConfig":
        """The same in every mode: a reward is semantics, not size."""
        return replace(cls())

    def without(self, *terms: str) -> "RewardConfig":
        """The weights of the named terms set to 0 (ablations)."""
        unknown = set(terms) - set(TERM_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward terms {sorted(unknown)}; choose from {list(TERM_WEIGHTS)}")
        return replace(self, **{TERM_WEIGHTS[t]: 0.0 for t in terms})


# ---------------------------------------------------------------- the terms, one function each

def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


def length_term(texts: list[str], length_range: tuple[int, int]) -> np.ndarray:
    """(B,): n/lo below the range, 1 inside [lo, hi], linear down to 0 at 2·hi."""
    lo, hi = length_range
    n = np.array([word_count(t) for t in texts], dtype=np.float64)                 # (B,)
    return np.interp(n, [0, lo, hi, 2 * hi], [0.0, 1.0, 1.0, 0.0], right=0.0)


def relevance_term(expl: np.ndarray, item: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """(B, D) x 3 unit-norm rows -> (B,): mean of clip(cos, 0, 1) with item and with profile."""
    to_item = np.clip((expl * item).sum(axis=1), 0.0, 1.0)                          # (B,)
    to_profile = np.clip((expl * profile).sum(axis=1), 0.0, 1.0)                    # (B,)
    return ((to_item + to_profile) / 2).astype(np.float64)


def sentences(text: str) -> list[str]:
    """Split on ``.``, ``!`` and ``?``; empty pieces dropped."""
    return [s.strip() for s in re.split(r"[.!?]+", text) if s.strip()]


def _consistency(text: str, min_words: int) -> float:
    sents = sentences(text)
    if not sents:
        return 0.0
    long_share = np.mean([word_count(s) >= min_words for s in sents])
    distinct_share = len({" ".join(s.lower().split()) for s in sents}) / len(sents)
    return float(long_share * distinct_share)


def consistency_term(texts: list[str], min_words: int) -> np.ndarray:
    """(B,): share of sentences with >= ``min_words`` words x share of distinct sentences."""
    return np.array([_consistency(t, min_words) for t in texts], dtype=np.float64)


def fluency_term(mean_logprobs: np.ndarray, fluency_range: tuple[float, float]) -> np.ndarray:
    """(B,) mean token log-probs mapped linearly from ``fluency_range`` to [0, 1], clipped."""
    lo, hi = fluency_range
    return np.clip((np.asarray(mean_logprobs, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)


def factuality_penalty(texts: list[str], genre_lists: list[tuple[str, ...]], max_false: int) -> np.ndarray:
    """(B,): min(#false genres, max_false) / max_false (``data.genre_words.false_genres``)."""
    counts = [len(false_genres(t, g)) for t, g in zip(texts, genre_lists)]
    return np.minimum(np.array(counts, dtype=np.float64), max_false) / max_false


# ---------------------------------------------------------------- fluency under the reference LM

def fluency_prompt(tokenizer) -> str:
    """The neutral chat prompt every explanation is scored after (text + EOS is the reply)."""
    return prompt_lib.chat(tokenizer, FLUENCY_PROMPT)


def _is_peft(model) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


@torch.no_grad()
def mean_token_logprob(lm, tokenizer, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """(B,) mean log-prob per response token (text + EOS) under the reference LM.

    A peft model is scored with its adapter off (:func:`lora.reference_mode`),
    so fluency is measured by the frozen base model, never by the policy itself.
    Every text follows the same neutral prompt, so the prompt runs once and its
    keys and values are shared by the batch (the texts alone are then scored).
    """
    lm.eval()
    if not texts:
        return np.zeros(0)
    with (lora.reference_mode(lm) if _is_peft(lm) else contextlib.nullcontext()), attention_without_cudnn():
        return np.concatenate([_prefixed_mean_logprob(lm, tokenizer, texts[s:s + batch_size])
                               for s in range(0, len(texts), batch_size)]).astype(np.float64)


def _prefixed_mean_logprob(lm, tokenizer, texts: list[str]) -> np.ndarray:
    device = next(lm.parameters()).device
    prompt = tokenizer(fluency_prompt(tokenizer), add_special_tokens=False, return_tensors="pt")["input_ids"]
    prompt = prompt.to(device)                                                           # (1, P), no padding
    head = lm(input_ids=prompt, use_cache=True, logits_to_keep=1)                        # the shared prompt, once
    rows = generation.teacher_forced(tokenizer, [fluency_prompt(tokenizer)] * len(texts), texts, device)
    ids, mask = rows.response_ids, rows.response_mask                                    # (b, T)
    cache = head.past_key_values
    cache.batch_repeat_interleave(len(texts))
    P, T = prompt.shape[1], ids.shape[1]
    out = lm(input_ids=ids, attention_mask=torch.cat([mask.new_ones((len(texts), P)), mask], 1).long(),
             position_ids=torch.arange(P, P + T, device=device).expand(len(texts), T),
             past_key_values=cache, use_cache=True)
    logits = torch.cat([head.logits[:, -1:].expand(len(texts), 1, -1), out.logits[:, :-1]], 1).float()   # (b, T, V)
    lp = gather_logprobs(logits, ids, 1.0) * mask                                        # (b, T)
    return (lp.sum(1) / mask.sum(1)).cpu().numpy()


# ---------------------------------------------------------------- the composite

class CompositeReward:
    """``reward(texts, prompts) -> list[float]`` for the PPO loop; ``terms`` shows every part.

    ``contexts`` maps each prompt string to its :class:`ExplanationContext`. Item
    and profile embeddings are computed on first use and kept. Without an ``lm``
    (or with ``w_coherence == 0``) no LM runs and coherence is consistency alone.
    """

    def __init__(self, cfg: RewardConfig, contexts: Mapping[str, ExplanationContext], lm=None,
                 tokenizer=None, embed: Callable[[list[str]], np.ndarray] = embed_texts):
        if lm is not None and tokenizer is None:
            raise ValueError("an lm needs its tokenizer for the fluency term")
        self.cfg, self.contexts, self.lm, self.tokenizer, self.embed = cfg, contexts, lm, tokenizer, embed
        self._context_vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _lookup(self, prompts: list[str]) -> list[ExplanationContext]:
        missing = [p for p in prompts if p not in self.contexts]
        if missing:
            raise KeyError(f"{len(missing)} prompt(s) have no ExplanationContext, "
                           f"e.g. {missing[0][:80]!r}")
        return [self.contexts[p] for p in prompts]

    def _vectors(self, prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(B, D) item and (B, D) profile embeddings, embedding new prompts once."""
        new = list(dict.fromkeys(p for p in prompts if p not in self._context_vectors))
        if new:
            ctx = [self.contexts[p] for p in new]
            vecs = self.embed([c.item_text for c in ctx] + [c.profile_text for c in ctx])  # (2N, D)
            for i, p in enumerate(new):
                self._context_vectors[p] = (vecs[i], vecs[len(new) + i])
        item = np.stack([self._context_vectors[p][0] for p in prompts])
        profile = np.stack([self._context_vectors[p][1] for p in prompts])
        return item, profile

    def _fluency(self, texts: list[str]) -> np.ndarray:
        if self.lm is None or self.cfg.w_coherence == 0:
            return np.full(len(texts), np.nan)
        return fluency_term(mean_token_logprob(self.lm, self.tokenizer, texts), self.cfg.fluency_range)

    def terms(self, texts: list[str], prompts: list[str]) -> pd.DataFrame:
        """One row per text: every term, the false-genre count and the reward."""
        if len(texts) != len(prompts):
            raise ValueError(f"{len(texts)} texts but {len(prompts)} prompts")
        cfg, ctx = self.cfg, self._lookup(prompts)
        item, profile = self._vectors(prompts)
        df = pd.DataFrame({
            "length": length_term(texts, cfg.length_range),
            "relevance": relevance_term(np.asarray(self.embed(texts)), item, profile),
            "fluency": self._fluency(texts),
            "consistency": consistency_term(texts, cfg.min_sentence_words),
            "false_genres": [len(false_genres(t, c.item_genres)) for t, c in zip(texts, ctx)],
            "factuality": factuality_penalty(texts, [c.item_genres for c in ctx], cfg.max_false_genres),
        })
        df["coherence"] = df[["fluency", "consistency"]].mean(axis=1, skipna=True)   # NaN fluency: skipped
        df["reward"] = (cfg.w_length * df["length"] + cfg.w_relevance * df["relevance"]
                        + cfg.w_coherence * df["coherence"] - cfg.w_factuality * df["factuality"])
        return df[["length", "relevance", "fluency", "consistency", "coherence",
                   "false_genres", "factuality", "reward"]]

    def __call__(self, texts: list[str], prompts: list[str]) -> list[float]:
        """The reward column as floats (``reward_fn(texts, prompts)``)."""
        return [float(r) for r in self.terms(list(texts), list(prompts))["reward"]]
