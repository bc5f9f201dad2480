"""Using an LM without free generation: score candidates, and map text back to items.

``score_candidates`` ranks a set of candidate answers (e.g. item titles) by their
likelihood as the reply to a prompt: for LLM preference labels (iALP) and LLM
reference policies (LAAC) this avoids parsing free text. When text must be
parsed, ``match_items`` maps item mentions back to catalogue ids: a normalised
exact or contained title match first, then the nearest MiniLM embedding above a
similarity threshold.

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch

from recrl_core.llm.generation import Generated, response_mask
from recrl_core.llm.logprobs import token_logprobs

_YEAR = re.compile(r"\(\d{4}\)\s*$")
_ARTICLE = re.compile(r"^(.*), (the|a|an)$")


@torch.no_grad()
def score_candidates(model, tokenizer, prompt: str, candidates: Sequence[str],
                     reduce: str = "mean", batch_size: int = 32) -> np.ndarray:
    """Log-likelihood of each candidate as the reply to ``prompt``.

    Args:
        prompt: chat-formatted prompt (ends where the assistant turn starts).
        candidates: answer strings; each is followed by the EOS token, so
            "Heat" is not rewarded for being a prefix of "Heat and Dust".
        reduce: "sum" (log P of the whole answer) or "mean" (per token; less
            biased against long titles).
    Returns:
        (C,) float64 scores; higher = more likely.
    """
    model.eval()
    device = next(model.parameters()).device
    p = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    answers = [tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
               for c in candidates]
    out = []
    for start in range(0, len(answers), batch_size):
        chunk = answers[start:start + batch_size]
        width = max(len(a) for a in chunk)
        resp = torch.tensor([a + [tokenizer.eos_token_id] * (width - len(a)) for a in chunk])  # (C, T)
        batch = Generated(p.expand(len(chunk), -1).to(device), torch.ones(len(chunk), len(p),
                          dtype=torch.long, device=device), resp.to(device),
                          response_mask(resp, tokenizer.eos_token_id).to(device), list(candidates))
        logp = token_logprobs(model, batch).sum(1)                                    # (C,)
        if reduce == "mean":
            logp = logp / batch.response_mask.sum(1)
        out.append(logp.double().cpu())
    return torch.cat(out).numpy()


def normalise_title(title: str) -> str:
    """Lower case, no year, "Matrix, The" -> "the matrix", punctuation to spaces."""
    t = _YEAR.sub("", title.strip()).strip().lower()
    t = _ARTICLE.sub(r"\2 \1", t)
    return " ".join(re.sub(r"[^\w\s]", " ", t).split())


def match_items(texts: Sequence[str], titles: Sequence[str], min_similarity: float = 0.6,
                use_embeddings: bool = True) -> np.ndarray:
    """Catalogue index named by each text, or -1.

    Order of rules: (1) the normalised text equals a normalised title; (2) the
    longest normalised title (≥ 4 characters) contained in the text on word
    boundaries; (3) the title with the most similar MiniLM embedding, if its
    cosine is at least ``min_similarity``.

    Returns:
        (N,) int64 indices into ``titles``.
    """
    norm_titles = [normalise_title(t) for t in titles]
    exact = {t: i for i, t in reversed(list(enumerate(norm_titles)))}
    by_length = sorted((i for i, t in enumerate(norm_titles) if len(t) >= 4),
                       key=lambda i: -len(norm_titles[i]))
    out = np.full(len(texts), -1, dtype=np.int64)
    for row, text in enumerate(texts):
        norm = normalise_title(text)
        if norm in exact:
            out[row] = exact[norm]
            continue
        padded = f" {norm} "
        out[row] = next((i for i in by_length if f" {norm_titles[i]} " in padded), -1)
    missing = np.flatnonzero(out < 0)
    if use_embeddings and len(missing):
        from recrl_core.llm.embeddings import embed_texts

        sims = embed_texts([texts[i] for i in missing], cache=False) @ embed_texts(list(titles)).T
        best = sims.argmax(1)
        ok = sims[np.arange(len(missing)), best] >= min_similarity
        out[missing[ok]] = best[ok]
    return out
