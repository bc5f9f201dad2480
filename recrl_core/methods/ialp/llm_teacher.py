"""The language model as teacher: candidate likelihoods for logged states (cached), and as a zero-shot policy.

For a state, the prompt lists the items the user liked and asks for one more
(``llm.prompts.preference_prompt``); every candidate's text is scored as the reply,
the mean log-probability per token (``llm.candidates.cached_candidate_scores``: the prompt
is computed once per state, its candidates are branches behind it). Every state's
scores are stored in ``llm.cache.OutputCache("ialp-labels")`` under the model, the
prompt and the candidate texts, so a second run makes no LLM call, and any change of
the three makes a new entry.

Spec: spec-ialp-losses (book/appendix/ialp.md), step 1.
Taught in: sec-ialp-teacher
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from recrl_core.llm import prompts
from recrl_core.llm.cache import OutputCache
from recrl_core.llm.candidates import cached_candidate_scores
from recrl_core.methods.ialp import labels
from recrl_core.methods.ialp.labels import LabelConfig


def llm_scores(lm, tokenizer, lm_name: str, item_texts: list[str], histories: tuple[np.ndarray, ...],
               pools: np.ndarray, cfg: LabelConfig, cache_root: Path | None = None) -> tuple[np.ndarray, dict]:
    """(S, M) the LLM's scores of each state's candidates, and what it took.

    Args:
        histories: ``(items (S, L), feedback (S, L), lengths (S,))`` of the states.
        pools: (S, M) candidate item ids.
    Returns:
        ``(scores, stats)``; stats counts states, cache hits, LLM-scored states, states with
        nothing liked yet (their prompt says "nothing yet"), states where the LLM expressed no
        preference (all candidates scored equal), and the seconds spent.
    """
    t0 = time.perf_counter()
    liked = labels.liked_texts(item_texts, *histories)
    asks = [prompts.preference_prompt(tokenizer, titles, cfg.history_shown) for titles in liked]
    replies = [[item_texts[i] for i in pool] for pool in pools]
    found, scored = cached_candidate_scores(lm, tokenizer, lm_name, asks, replies,
                                            OutputCache("ialp-labels", cache_root))
    scores = np.array(found, dtype=np.float64).reshape(pools.shape)
    if cfg.llm_score == "pmi":
        scores = scores - prior_scores(lm, tokenizer, lm_name, item_texts, pools, cfg, cache_root)[pools]
    stats = {"states": len(pools), "from_cache": len(pools) - scored, "llm_scored": scored,
             "nothing_liked": int(sum(not titles for titles in liked)),
             "no_preference": int((scores.max(axis=1) == scores.min(axis=1)).sum()),
             "seconds": time.perf_counter() - t0}
    return scores, stats


def prior_scores(lm, tokenizer, lm_name: str, item_texts: list[str], pools: np.ndarray, cfg: LabelConfig,
                 cache_root: Path | None = None) -> np.ndarray:
    """(N,) each pooled item's score as the reply to the prompt with *no* history (NaN for the others).

    What the LLM prefers before it knows anything about the user — its prior, much of it the
    fame of a title. ``likelihood - prior`` (``llm_score="pmi"``) keeps what the history adds.
    """
    items = np.unique(pools)
    ask = prompts.preference_prompt(tokenizer, [])
    reply = [item_texts[i] for i in items]
    (values,), _ = cached_candidate_scores(lm, tokenizer, lm_name, [ask], [reply],
                                           OutputCache("ialp-labels", cache_root))
    out = np.full(len(item_texts), np.nan)
    out[items] = values
    return out


class LLMPolicy:
    """Zero-shot: at every step, the LLM picks among fresh candidates for each session (no training).

    ``act(env, rng)`` builds a candidate pool per active session from its current
    history and seen items (:func:`labels.candidate_pools`, with the base recommender's
    scores) and recommends the candidate the LLM scores highest. Scores are cached like
    the teacher's. Expensive: one prompt per session and step.
    """

    def __init__(self, lm, tokenizer, lm_name: str, item_texts: list[str], popularity: np.ndarray, knn,
                 cfg: LabelConfig, cache_root: Path | None = None):
        self.lm, self.tokenizer, self.lm_name, self.item_texts = lm, tokenizer, lm_name, item_texts
        self.popularity, self.knn, self.cfg, self.cache_root = popularity, knn, cfg, cache_root
        self.calls = 0

    def act(self, env, rng: np.random.Generator) -> np.ndarray:
        obs, seen = env.observation(), env.seen
        actions = np.where(seen, np.inf, np.arange(env.num_items)[None]).argmin(axis=1)   # finished rows: any unseen
        rows = np.flatnonzero(~env.s.done)
        if len(rows):
            hist = (obs["items"][rows], obs["feedback"][rows], obs["length"][rows])
            pools = labels.candidate_pools(seen[rows], self.popularity, labels.base_scores(self.knn, hist[0], hist[2]),
                                           self.cfg, rng)
            scores, _ = llm_scores(self.lm, self.tokenizer, self.lm_name, self.item_texts, hist, pools, self.cfg,
                                   self.cache_root)
            actions[rows] = pools[np.arange(len(rows)), scores.argmax(axis=1)]
            self.calls += len(rows)
        return actions
