"""The LLM's suggestions of items new to each user, and the reference policy made of them.

Two routes, both cached per user in ``llm.cache.OutputCache``:

* **scoring** (book mode): a per-user pool of items the user has not interacted
  with (half drawn by popularity, half uniformly: :func:`candidate_pools`); every
  pooled title is scored as the reply to "the user liked ...; recommend one more"
  (``llm.candidates.score_candidate_sets``, the prompt computed once per user), and
  the ``k`` best are the suggestions;
* **generation** (shown on a sample; full mode may use it): the LLM writes ``k``
  titles, one per line, and ``llm.candidates.match_items`` maps them back to the
  catalogue (exact or contained title first, then the nearest MiniLM title);
  history items, repeats and unmatched lines are dropped and counted.

The reference policy :math:`\\pi_{\\text{LLM}}(\\cdot\\mid s)` puts weight on a user's
suggestions: uniform, or by rank (:func:`reference_weights`).

Spec: spec-laac-setup ("LLM use"), spec-laac-losses.
Taught in: sec-laac-suggestions
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recrl_core.caching import make_key
from recrl_core.llm import prompts
from recrl_core.llm.cache import OutputCache

REFERENCES = ("uniform", "rank")
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*")


@dataclass(frozen=True)
class Suggestions:
    """Per user, the suggested items best first, padded with -1 (and NaN scores)."""

    items: np.ndarray                 # (U, K) int64 catalogue indices, -1 = none
    scores: np.ndarray                # (U, K) float64 the LLM's score (scoring route) or -rank (generation)
    stats: dict = field(default_factory=dict)

    @property
    def counts(self) -> np.ndarray:
        """(U,) suggestions per user."""
        return (self.items >= 0).sum(axis=1)


def liked_titles(titles: list[str], sequences: dict[int, np.ndarray], liked: dict[int, np.ndarray],
                 num_users: int, limit: int) -> list[list[str]]:
    """The last ``limit`` liked titles per user (oldest first); [] for a user with none."""
    out = []
    for u in range(num_users):
        items = sequences.get(u, np.empty(0, dtype=np.int64))
        mask = liked.get(u, np.zeros(len(items), dtype=bool))
        out.append([titles[i] for i in items[mask][-limit:]])
    return out


def candidate_pools(seen: list[np.ndarray], popularity: np.ndarray, size: int, popular_share: float,
                    seed: int) -> list[np.ndarray]:
    """Per user, up to ``size`` distinct items outside ``seen[u]``.

    ``round(popular_share * size)`` are drawn with probability proportional to
    popularity + 1, the rest uniformly from what is left; each user's draw is
    seeded by ``(seed, u)``, so a pool does not depend on the other users. A user who
    has seen the whole catalogue gets an empty pool.
    """
    n = len(popularity)
    weight = popularity.astype(np.float64) + 1.0
    pools = []
    for u, items in enumerate(seen):
        rng = np.random.default_rng([seed, u])
        free = np.setdiff1d(np.arange(n), items)
        take = min(size, len(free))
        k_pop = min(take, int(round(popular_share * size)))
        pop = rng.choice(free, size=k_pop, replace=False, p=weight[free] / weight[free].sum()) if k_pop else free[:0]
        rest = np.setdiff1d(free, pop)
        uni = rng.choice(rest, size=take - k_pop, replace=False)
        pools.append(np.concatenate([pop, uni]).astype(np.int64))
    return pools


def score_pools(lm, tokenizer, lm_name: str, titles: list[str], liked: list[list[str]],
                pools: list[np.ndarray], k: int, limit: int = 5,
                cache_root: Path | None = None) -> Suggestions:
    """The scoring route: each user's ``k`` best-scored pool items (module docstring).

    Stats: users, cache hits, LLM-scored users, users with no liked history (their prompt
    says "nothing yet"), users with an empty pool (no suggestions), seconds.
    """
    from recrl_core.llm.candidates import cached_candidate_scores

    t0 = time.perf_counter()
    asks = [prompts.preference_prompt(tokenizer, t, limit) for t in liked]
    replies = [[titles[i] for i in pool] for pool in pools]
    found, scored = cached_candidate_scores(lm, tokenizer, lm_name, asks, replies,
                                            OutputCache("laac-suggestions", cache_root))
    items = np.full((len(pools), k), -1, dtype=np.int64)
    scores = np.full((len(pools), k), np.nan)
    for u, (pool, values) in enumerate(zip(pools, found)):
        best = np.argsort(-np.asarray(values), kind="stable")[:k]
        items[u, :len(best)], scores[u, :len(best)] = pool[best], np.asarray(values)[best]
    empty = sum(len(p) == 0 for p in pools)
    stats = {"users": len(pools), "from_cache": len(pools) - empty - scored, "llm_scored": scored,
             "no_liked_history": sum(not t for t in liked), "empty_pool": empty,
             "seconds": time.perf_counter() - t0}
    return Suggestions(items, scores, stats)


def parse_lines(reply: str) -> list[str]:
    """Non-empty lines of a reply, without numbering or bullets ("1. Heat" -> "Heat")."""
    return [line for line in (_BULLET.sub("", raw).strip().strip('"') for raw in reply.splitlines()) if line]


def generate_suggestions(lm, tokenizer, lm_name: str, titles: list[str], liked: list[list[str]],
                         seen: list[np.ndarray], k: int, limit: int = 5, max_new_tokens: int = 96,
                         cache_root: Path | None = None, use_embeddings: bool = True) -> tuple[Suggestions, list[str]]:
    """The generation route for the given users (greedy), mapped back to catalogue items.

    ``use_embeddings=False`` maps by title only (no MiniLM). Returns the suggestions
    (scores = minus the line's rank) and the raw replies. Stats
    count lines, exact/contained title matches, nearest-neighbour matches, misses, lines
    naming an item already in the history or already suggested, replies that named no
    catalogue item, LLM calls, cache hits and seconds.
    """
    from recrl_core.llm.candidates import match_items
    from recrl_core.llm.generation import generate_text

    t0 = time.perf_counter()
    store = OutputCache("laac-generated", cache_root)
    asks = [prompts.suggestion_prompt(tokenizer, t, k, limit) for t in liked]
    keys = [make_key(model=lm_name, prompt=a, max_new_tokens=max_new_tokens) for a in asks]
    replies = [store.get(key) for key in keys]
    if any(r is not None and not isinstance(r, str) for r in replies):
        bad = next(key for key, r in zip(keys, replies) if r is not None and not isinstance(r, str))
        raise ValueError(f"LLM cache entry {store.path(bad)} is not a text reply: delete the file to regenerate")
    todo = [u for u, r in enumerate(replies) if r is None]
    settings = {"do_sample": False, "max_new_tokens": max_new_tokens}
    for u, text in zip(todo, generate_text(lm, tokenizer, [asks[u] for u in todo], settings) if todo else []):
        replies[u] = text
        store.put(keys[u], text, {"model": lm_name, "prompt": asks[u], "max_new_tokens": max_new_tokens})
    lines = [parse_lines(r) for r in replies]
    flat = [line for user_lines in lines for line in user_lines]
    exact = match_items(flat, titles, use_embeddings=False) if flat else np.empty(0, dtype=np.int64)
    mapped = match_items(flat, titles, use_embeddings=use_embeddings) if flat else exact
    items = np.full((len(liked), k), -1, dtype=np.int64)
    stats = dict(users=len(liked), lines=len(flat), exact=int((exact >= 0).sum()),
                 nearest=int(((exact < 0) & (mapped >= 0)).sum()), missed=int((mapped < 0).sum()),
                 in_history=0, repeated=0, no_item=0, llm_calls=len(todo), from_cache=len(liked) - len(todo))
    start = 0
    for u, user_lines in enumerate(lines):
        kept = []
        for i in mapped[start:start + len(user_lines)]:
            if i < 0:
                continue
            if i in seen[u]:
                stats["in_history"] += 1
            elif i in kept:
                stats["repeated"] += 1
            elif len(kept) < k:
                kept.append(int(i))
        start += len(user_lines)
        items[u, :len(kept)] = kept
        stats["no_item"] += not kept
    scores = np.where(items >= 0, -np.arange(k, dtype=np.float64)[None], np.nan)
    stats["seconds"] = time.perf_counter() - t0
    return Suggestions(items, scores, stats), replies


def reference_weights(items: np.ndarray, form: str = "uniform") -> np.ndarray:
    """(U, K) :math:`\\pi_{\\text{LLM}}(a_k\\mid s)`: uniform over a user's suggestions, or
    proportional to 1 / rank ("rank"); 0 on padding; a user without suggestions gets all 0."""
    if form not in REFERENCES:
        raise ValueError(f"unknown reference form {form!r}; choose one of: {', '.join(REFERENCES)}")
    valid = items >= 0
    raw = np.where(valid, 1.0 if form == "uniform" else 1.0 / np.arange(1, items.shape[1] + 1)[None], 0.0)
    total = raw.sum(axis=1, keepdims=True)
    return np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
