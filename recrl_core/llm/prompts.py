"""Prompt builders: item text of Ch. 1 in, chat-formatted strings out.

Every prompt goes through the tokenizer's own chat template with
``add_generation_prompt=True`` (spec-llm-conventions), so the same builder serves
SmolLM2, the tiny smoke-mode models (which share its tokenizer) and the larger
instruct models of full mode. Templates are module constants so a cache key
can include their text.

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SYSTEM = "You are a concise movie and music recommendation assistant."

GENRE_TEMPLATE = ("A user recently enjoyed: {history}.\n"
                  "In one short sentence, tell the user which kind of movie to watch next.")
CHOICE_TEMPLATE = ("A user recently enjoyed: {history}.\n"
                   "Candidates:\n{candidates}\n"
                   "Which one candidate will the user like most? Answer with its title.")
PREFERENCE_TEMPLATE = ("A user recently liked: {history}.\n"
                       "Recommend one more item this user will like.")
SUGGEST_TEMPLATE = ("I liked these movies: {history}.\n"      # SmolLM2-135M writes lists to this wording
                    "List {k} other movies I would enjoy, one per line.")
EXPLAIN_TEMPLATE = ("{signal}A user recently enjoyed: {history}.\n"
                    "We recommend {title} ({genres}){tags}.\n"
                    "In one or two sentences, explain why this user will like it.")
SIGNAL_LINE = "Recommender signal: {marker}\n"     # soft-prompt placeholders (llm.soft_prompt)


def chat(tokenizer, user: str, system: str | None = SYSTEM) -> str:
    """One user turn in the model's chat template, ending where the assistant starts."""
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def join_titles(titles: Sequence[str], limit: int = 5) -> str:
    """The last ``limit`` titles, oldest first, comma-separated."""
    return ", ".join(list(titles)[-limit:])


def with_genres(title: str, genres: Sequence[str]) -> str:
    """ "Heat (1995) [Action, Crime, Thriller]": a title with its genres for a prompt."""
    return f"{title} [{', '.join(genres)}]" if len(genres) else title


def genre_prompt(tokenizer, history_titles: Sequence[str], limit: int = 5) -> str:
    """Ch. 5 toy task: ask for the kind of movie to watch next (titles may carry genres)."""
    return chat(tokenizer, GENRE_TEMPLATE.format(history=join_titles(history_titles, limit)))


def choice_prompt(tokenizer, history_titles: Sequence[str], candidates: Sequence[str],
                  limit: int = 5) -> str:
    """Candidate choice (iALP/LAAC): numbered candidate titles after the history."""
    listing = "\n".join(f"{i + 1}. {c}" for i, c in enumerate(candidates))
    return chat(tokenizer, CHOICE_TEMPLATE.format(history=join_titles(history_titles, limit),
                                                  candidates=listing))


def preference_prompt(tokenizer, liked_titles: Sequence[str], limit: int = 5) -> str:
    """iALP's preference question: the items the user liked, then "recommend one more" (candidates are scored as replies).

    An empty history reads "nothing yet", so the prompt is still well formed.
    """
    history = join_titles(liked_titles, limit) if len(liked_titles) else "nothing yet"
    return chat(tokenizer, PREFERENCE_TEMPLATE.format(history=history))


def suggestion_prompt(tokenizer, liked_titles: Sequence[str], k: int, limit: int = 5) -> str:
    """LAAC's free-generation route: ask for ``k`` titles new to the user, one per line."""
    history = join_titles(liked_titles, limit) if len(liked_titles) else "nothing yet"
    return chat(tokenizer, SUGGEST_TEMPLATE.format(history=history, k=k))


def explanation_prompt(tokenizer, history_titles: Sequence[str], title: str, genres: Sequence[str],
                       limit: int = 5, tags: Sequence[str] = (), marker: str = "") -> str:
    """Shielded RecRL: explain one recommended item to one user.

    ``tags`` (the item's most used user tags) are appended to the item; ``marker``
    (the soft prompt's placeholder tokens) adds a "Recommender signal" line.
    """
    signal = SIGNAL_LINE.format(marker=marker) if marker else ""
    tag_text = f", tagged {', '.join(tags)}" if len(tags) else ""
    return chat(tokenizer, EXPLAIN_TEMPLATE.format(signal=signal, history=join_titles(history_titles, limit),
                                                   title=title, genres=", ".join(genres), tags=tag_text))


def template_hash() -> str:
    """Short hash of every template here: part of LLM-output cache keys."""
    text = "\n".join([SYSTEM, GENRE_TEMPLATE, CHOICE_TEMPLATE, PREFERENCE_TEMPLATE, SUGGEST_TEMPLATE,
                      EXPLAIN_TEMPLATE, SIGNAL_LINE])
    return hashlib.sha256(text.encode()).hexdigest()[:12]
