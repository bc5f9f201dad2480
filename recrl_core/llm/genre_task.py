"""Chapter 5's toy RL task: name the genre a user prefers, rewarded by a rule.

A prompt shows a MovieLens user's last few titles, each with its genres, and
asks which kind of movie to watch next. The reward is 1 when the reply names the user's **target genre**
(the most frequent genre among the shown titles; ties by the genre's overall
frequency, then by name) and 0 otherwise. It is a plain Python callable, so our
PPO and TRL's GRPO optimise the same function. Genre words are matched on word
boundaries with a few synonyms (:mod:`recrl_core.data.genre_words`).

Taught in: sec-rl-finetuning-task
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recrl_core.data.genre_words import GENRE_WORDS, mentioned_genres
from recrl_core.llm import prompts as prompt_lib


def genre_reward(texts: list[str], targets: list[str]) -> list[float]:
    """1.0 if the reply names its target genre, else 0.0."""
    return [float(target in mentioned_genres(text)) for text, target in zip(texts, targets)]


def target_genre(genre_lists: list[tuple[str, ...]], overall: Counter) -> str:
    """Most frequent genre among the shown items; ties by overall count, then name."""
    counts = Counter(g for genres in genre_lists for g in genres if g in GENRE_WORDS)
    if not counts:
        raise ValueError("none of the shown items has a genre")
    return max(counts, key=lambda g: (counts[g], overall[g], [-ord(c) for c in g]))


@dataclass
class GenreTask:
    """Prompts (chat-formatted), their target genres and the reward callable."""
    prompts: list[str]
    targets: list[str]
    users: list[int]

    def __post_init__(self):
        self._target_of = dict(zip(self.prompts, self.targets))

    def reward(self, texts: list[str], prompts: list[str]) -> list[float]:
        """``reward_fn(texts, prompts)`` for :func:`recrl_core.train.ppo_loop.fit_ppo`."""
        return genre_reward(texts, [self._target_of[p] for p in prompts])

    def trl_reward(self, completions, prompts, **_) -> list[float]:
        """The same reward in trl's signature ``f(completions, prompts, **kwargs)``."""
        return self.reward(list(completions), list(prompts))

    def split(self, n_eval: int) -> tuple["GenreTask", "GenreTask"]:
        """Train and held-out evaluation users (the first ``n_eval`` are held out)."""
        cut = lambda s: GenreTask(self.prompts[s], self.targets[s], self.users[s])  # noqa: E731
        return cut(slice(n_eval, None)), cut(slice(0, n_eval))


def build_genre_task(ratings: pd.DataFrame, movies: pd.DataFrame, tokenizer, num_users: int,
                     history: int = 5, seed: int = 0) -> GenreTask:
    """One prompt per user for ``num_users`` users drawn with ``seed``.

    Each prompt lists the user's ``history`` most recent titles (oldest first), each
    followed by its genres in brackets.
    Users whose shown titles carry no genre are skipped.
    """
    genres = movies.set_index("item")["genres"]
    titles = movies.set_index("item")["title"]
    overall = Counter(g for gs in movies["genres"] for g in gs)
    users = np.sort(ratings["user"].unique())
    order = np.random.default_rng(seed).permutation(users)
    ordered = ratings.sort_values(["user", "time", "item"])
    last = ordered.groupby("user").tail(history).groupby("user")["item"].apply(list)
    out_p, out_t, out_u = [], [], []
    for user in order:
        items = last[user]
        shown = [genres[i] for i in items]
        if not any(g in GENRE_WORDS for gs in shown for g in gs):
            continue
        shown_text = [prompt_lib.with_genres(titles[i], genres[i]) for i in items]
        out_p.append(prompt_lib.genre_prompt(tokenizer, shown_text, limit=history))
        out_t.append(target_genre(shown, overall))
        out_u.append(int(user))
        if len(out_p) == num_users:
            break
    return GenreTask(out_p, out_t, out_u)
