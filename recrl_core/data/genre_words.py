"""Genre words in free text: which MovieLens genres a text names, and which of them are false.

One home for reading genres out of generated text, used by Ch. 5's genre reward,
Shielded RecRL's factuality penalty and its simulated reader. Genre words are
matched case-insensitively on word boundaries, with a few synonyms ("comedies",
"sci-fi", "romantic", "love story").

Taught in: sec-rl-finetuning-task, sec-explanation-reward
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("action",), "Adventure": ("adventure", "adventures", "adventurous"),
    "Animation": ("animation", "animated", "cartoon", "cartoons"),
    "Children": ("children", "children's", "kids", "family"),
    "Comedy": ("comedy", "comedies", "comedic", "funny"), "Crime": ("crime", "gangster"),
    "Documentary": ("documentary", "documentaries"), "Drama": ("drama", "dramas", "dramatic"),
    "Fantasy": ("fantasy", "fantasies"), "Film-Noir": ("noir",), "Horror": ("horror", "scary"),
    "IMAX": ("imax",), "Musical": ("musical", "musicals"), "Mystery": ("mystery", "mysteries"),
    "Romance": ("romance", "romantic", "romances", "love story"),
    "Sci-Fi": ("sci-fi", "science fiction", "scifi", "science-fiction"),
    "Thriller": ("thriller", "thrillers", "suspense"), "War": ("war",), "Western": ("western", "westerns"),
}
_PATTERNS = {g: re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
             for g, words in GENRE_WORDS.items()}


def mentioned_genres(text: str) -> set[str]:
    """Genres whose words appear in ``text`` (case-insensitive, whole words)."""
    return {g for g, pattern in _PATTERNS.items() if pattern.search(text)}


def false_genres(text: str, item_genres: Iterable[str]) -> set[str]:
    """Genres the text names that the item does not have (a false claim each)."""
    return mentioned_genres(text) - set(item_genres)
