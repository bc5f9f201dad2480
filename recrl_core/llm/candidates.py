"""Using an LM without free generation: score candidates, and map text back to items.

``score_candidates`` ranks a set of candidate answers (e.g. item titles) by their
likelihood as the reply to a prompt: for LLM preference labels (iALP) and LLM
reference policies (LAAC) this avoids parsing free text. ``score_candidate_sets``
does it for many prompts at once, each prompt computed once with its candidates as
branches behind it (a tree attention mask, ``llm.token_tree.branch_batch``). When text must be
parsed, ``match_items`` maps item mentions back to catalogue ids: a normalised
exact or contained title match first, then the nearest MiniLM embedding above a
similarity threshold.

Under ``accelerate launch`` the forward passes of ``score_candidate_sets`` (iALP's labelling,
LAAC's suggestions) are split over the processes by batch, the batches planned over all prompts
as one process plans them: the scores, and ``cached_candidate_scores``' cache files, are one
process's bit for bit (``recrl_core.distributed``, spec-scaling-out).

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch

from recrl_core import distributed
from recrl_core.llm.logprobs import attention_without_cudnn
from recrl_core.llm.token_tree import branch_batch

_YEAR = re.compile(r"\(\d{4}\)\s*$")
_ARTICLE = re.compile(r"^(.*), (the|a|an)$")


DEFAULT_MAX_TOKENS = 2048      # tokens (padded rows x width) per forward pass
DEFAULT_MAX_ROW_TOKENS = 512   # tokens per row: longer rows pay a quadratic tree mask and attention (bench_ialp)


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
        batch_size: at most this many candidates share one row (one prompt copy).
    Returns:
        (C,) float64 scores; higher = more likely. One-prompt form of
        :func:`score_candidate_sets`.
    """
    if not len(candidates):
        raise ValueError("no candidates to score: pass at least one candidate string")
    chunks = [list(candidates[i:i + batch_size]) for i in range(0, len(candidates), batch_size)]
    return np.concatenate(score_candidate_sets(model, tokenizer, [prompt] * len(chunks), chunks, reduce))


@torch.no_grad()
def score_candidate_sets(model, tokenizer, prompts: Sequence[str], candidate_sets: Sequence[Sequence[str]],
                         reduce: str = "mean", max_tokens: int = DEFAULT_MAX_TOKENS,
                         max_row_tokens: int = DEFAULT_MAX_ROW_TOKENS) -> list[np.ndarray]:
    """Log-likelihood of each candidate as the reply to its own prompt, many prompts at once.

    Each prompt is computed once: its candidates (each + EOS) are branches of one row
    behind it (:func:`~recrl_core.llm.token_tree.branch_batch`); a prompt whose branches
    would make a row longer than ``max_row_tokens`` gets several rows, each with the prompt
    and some of its candidates. Rows are packed into forward passes of at most
    ``max_tokens`` padded tokens. Temperature 1, eval mode.

    Args:
        prompts: B chat-formatted prompts, none empty.
        candidate_sets: B non-empty lists of answer strings (C_b of them).
        reduce: "mean" (per token, over the answer and its EOS) or "sum".
    Returns:
        B arrays (C_b,) float64, as :func:`score_candidates` gives per prompt.
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce must be 'mean' or 'sum', got {reduce!r}")
    prompt_ids, answers = _tokenize(tokenizer, prompts, candidate_sets)
    sums = [torch.zeros(len(a), dtype=torch.float64) for a in answers]
    batches, w = list(_batches(_rows(prompt_ids, answers, min(max_row_tokens, max_tokens)), max_tokens)), distributed.world()
    for k in distributed.shard(len(batches), w):     # all of them in one process; a block each under accelerate
        batch = batches[k]
        tree = branch_batch([prompt_ids[b] for b, _, _ in batch],
                            [[answers[b][c] for c in cs] for b, cs, _ in batch])
        per_branch = torch.zeros(int(tree["token_branch"].max()) + 1, dtype=torch.float64)
        per_branch.index_add_(0, tree["token_branch"], _branch_logprobs(model, tree).double())  # (K,)
        owners = [(b, c) for b, cs, _ in batch for c in cs]
        for k, (b, c) in enumerate(owners):
            sums[b][c] = per_branch[k]
    if w.size > 1:                                   # each (prompt, candidate) was scored by one process
        parts = distributed.gather(sums, w)
        sums = [torch.stack([p[b] for p in parts]).sum(0) for b in range(len(sums))]
    if reduce == "mean":
        sums = [s / torch.tensor([len(t) for t in a]) for s, a in zip(sums, answers)]
    return [s.numpy() for s in sums]


def cached_candidate_scores(model, tokenizer, model_name: str, prompts: Sequence[str],
                            candidate_sets: Sequence[Sequence[str]], store) -> tuple[list[list[float]], int]:
    """:func:`score_candidate_sets` through an ``llm.cache.OutputCache``: one entry per prompt,
    keyed by the model name, the prompt and its candidates; only missing entries reach the LM.

    An empty candidate set gets ``[]`` (no LM call, nothing stored). Returns the score lists
    and the number of prompts the LM scored.
    """
    from recrl_core.caching import make_key

    keys = [make_key(model=model_name, prompt=p, candidates=list(c)) for p, c in zip(prompts, candidate_sets)]
    found = [store.get_scores(key, len(c)) if len(c) else [] for key, c in zip(keys, candidate_sets)]
    todo, w = [j for j, value in enumerate(found) if value is None], distributed.world()
    if todo:                       # under accelerate: every process scores its block, the main one writes
        scored = score_candidate_sets(model, tokenizer, [prompts[j] for j in todo], [candidate_sets[j] for j in todo])
        for j, values in zip(todo, scored):
            found[j] = [float(v) for v in values]
            if w.main:
                store.put(keys[j], found[j], {"model": model_name, "prompt": prompts[j],
                                              "candidates": list(candidate_sets[j])})
        distributed.barrier(w)
    return found, len(todo)


def _tokenize(tokenizer, prompts, candidate_sets) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """Prompt ids (P_b,) and, per prompt, answer ids + EOS (n_bc,); checks for empty inputs."""
    if len(prompts) != len(candidate_sets):
        raise ValueError(f"{len(prompts)} prompts but {len(candidate_sets)} candidate sets")
    eos = tokenizer.eos_token_id
    prompt_ids, answers = [], []
    for b, (prompt, cands) in enumerate(zip(prompts, candidate_sets)):
        if not len(cands):
            raise ValueError(f"candidate set {b} is empty: give every prompt at least one candidate "
                             "(drop prompts without candidates before scoring)")
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"prompt {b} is empty: build it with llm.prompts (e.g. prompts.chat)")
        prompt_ids.append(torch.tensor(ids, dtype=torch.long))
        answers.append([torch.tensor(tokenizer(c, add_special_tokens=False)["input_ids"] + [eos],
                                     dtype=torch.long) for c in cands])
    return prompt_ids, answers


def _rows(prompt_ids, answers, max_tokens: int) -> list[tuple[int, list[int], int]]:
    """(prompt index, candidate indices, row length) per row, shortest first; a row exceeds
    ``max_tokens`` only if the prompt and one candidate do."""
    rows = []
    for b, (p, cands) in enumerate(zip(prompt_ids, answers)):
        cs, length = [], len(p)
        for c, a in enumerate(cands):
            if cs and length + len(a) > max_tokens:
                rows.append((b, cs, length))
                cs, length = [], len(p)
            cs, length = cs + [c], length + len(a)
        rows.append((b, cs, length))
    return sorted(rows, key=lambda r: r[2])


def _batches(rows, max_tokens: int):
    """Consecutive rows (sorted by length) whose padded size ``n_rows * width`` fits ``max_tokens``."""
    batch = []
    for row in rows:
        if batch and (len(batch) + 1) * row[2] > max_tokens:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def _branch_logprobs(model, tree: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,) log p(branch token | prompt, earlier tokens of its branch): one forward pass."""
    model.eval()
    ref = next(model.parameters())
    first = int(tree["pred_col"].min())                     # no logits needed left of this column
    with attention_without_cudnn():
        logits = model(input_ids=tree["ids"].to(ref.device),
                       attention_mask=tree["mask"].to(ref.device, ref.dtype),
                       position_ids=tree["position_ids"].to(ref.device), use_cache=False,
                       logits_to_keep=tree["ids"].shape[1] - first).logits        # (B, L - first, V)
    rows, cols = tree["token_row"].to(ref.device), (tree["pred_col"] - first).to(ref.device)
    picked = logits[rows, cols].float()                                            # (N, V)
    targets = tree["ids"][tree["token_row"], tree["token_col"]].to(ref.device)    # (N,)
    return (picked.gather(-1, targets[:, None]).squeeze(-1) - picked.logsumexp(-1)).cpu()


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
