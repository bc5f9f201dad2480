"""MovieLens ``ml-latest-small`` read into the interaction schema.

Files (official zip names) under ``<data_dir>/ml-latest-small/``:
``ratings.csv`` (userId, movieId, rating, timestamp), ``movies.csv`` (movieId,
title, genres) and ``tags.csv`` (userId, movieId, tag, timestamp). There are no
plot descriptions: item text is title, year, genres and the most used tags.

The *Fantasy|Romance slice* (movies with either genre: 27,435 ratings, all 610
users) is the book's stand-in for the Amazon-Books fantasy+romance data of
Shielded RecRL.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from recrl_core.data import checksums, files, interactions

NAME = checksums.MOVIELENS.name
SLICE_GENRES = ("Fantasy", "Romance")
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _path(data_dir: Path, name: str, strict: bool) -> Path:
    path = files.require_file(Path(data_dir) / NAME / name, NAME)
    checksums.check_file(path, checksums.MOVIELENS, strict=strict)
    return path


def load_ratings(data_dir: Path, *, strict: bool = False) -> pd.DataFrame:
    """All ratings as schema rows (``event="rating"``, ``value`` = stars 0.5-5.0).

    Args:
        data_dir: the data directory (``config.data_dir()``).
        strict: raise on a checksum mismatch (tests) instead of warning (notebooks).
    Returns:
        schema frame, one row per line of ``ratings.csv``, in file order.
    Raises:
        FileNotFoundError: ``ratings.csv`` or ``movies.csv`` is missing.
        ValueError: naming the file, column and line of a malformed value, of a
            rating that is not a half star in 0.5-5.0, or of a movieId that is
            not in ``movies.csv`` (the official copy has neither).
    """
    path = _path(data_dir, "ratings.csv", strict)
    raw = files.read_table(path, ["userId", "movieId", "rating", "timestamp"],
                           numeric=["rating"], integer=["userId", "movieId", "timestamp"])
    stars = raw["rating"].to_numpy()
    files.check_rows(path, "rating", raw["rating"],
                     (stars >= 0.5) & (stars <= 5.0) & (stars * 2 == np.round(stars * 2)),
                     "a half-star rating 0.5, 1.0, ..., 5.0")
    _check_catalogue(path, raw["movieId"], data_dir, strict)
    frame = pd.DataFrame({"user": raw["userId"], "item": raw["movieId"], "time": raw["timestamp"],
                          "value": raw["rating"], "event": "rating"})
    return interactions.validate(frame, source=str(path))


def _check_catalogue(path: Path, movie_ids: pd.Series, data_dir: Path, strict: bool) -> None:
    """Raise, naming ``path`` and the line, if a movieId of ``path`` is not in ``movies.csv``."""
    known = load_movies(data_dir, strict=strict)["item"]
    files.check_rows(path, "movieId", movie_ids, movie_ids.isin(known).to_numpy(),
                     f"a movieId listed in {path.parent / 'movies.csv'}")


def load_movies(data_dir: Path, *, strict: bool = False) -> pd.DataFrame:
    """The catalogue: ``item``, ``title`` (with year), ``name`` (without), ``year`` (or <NA>), ``genres`` (tuple)."""
    path = _path(data_dir, "movies.csv", strict)
    raw = files.read_table(path, ["movieId", "title", "genres"], integer=["movieId"])
    years = raw["title"].str.extract(_YEAR, expand=False)
    genres = raw["genres"].map(lambda g: () if g == "(no genres listed)" else tuple(g.split("|")))
    return pd.DataFrame({"item": raw["movieId"], "title": raw["title"].str.strip(),
                         "name": raw["title"].str.replace(_YEAR, "", regex=True).str.strip(),
                         "year": pd.to_numeric(years).astype("Int64"), "genres": genres})


def load_tags(data_dir: Path, *, strict: bool = False) -> pd.DataFrame:
    """Free-text tags: ``user``, ``item``, ``tag`` (lower-cased, stripped), ``time``.

    Raises:
        ValueError: naming the file, column and line of a malformed value or of a
            movieId that is not in ``movies.csv`` (the official copy has none, so
            such a tag means a damaged or mixed-up copy: it is an error, not a drop).
    """
    path = _path(data_dir, "tags.csv", strict)
    raw = files.read_table(path, ["userId", "movieId", "tag", "timestamp"],
                           integer=["userId", "movieId", "timestamp"])
    _check_catalogue(path, raw["movieId"], data_dir, strict)
    return pd.DataFrame({"user": raw["userId"], "item": raw["movieId"],
                         "tag": raw["tag"].str.strip().str.lower(), "time": raw["timestamp"]})


def genre_slice(ratings: pd.DataFrame, movies: pd.DataFrame,
                genres: tuple[str, ...] = SLICE_GENRES) -> pd.DataFrame:
    """Ratings of movies that carry *any* of ``genres``.

    Raises:
        ValueError: if a genre is not in the catalogue (catches typos such as "Romantic").
    """
    known = set().union(*movies["genres"])
    unknown = [g for g in genres if g not in known]
    if unknown:
        raise ValueError(f"genre(s) {unknown} not in movies.csv; known genres: {sorted(known)}")
    wanted = movies.loc[movies["genres"].map(lambda gs: any(g in gs for g in genres)), "item"]
    return ratings[ratings["item"].isin(wanted)].reset_index(drop=True)


def genre_matrix(movies: pd.DataFrame, items: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """0/1 genre vectors for ``items`` (raw ids), e.g. for genre-based ILD.

    Returns:
        ``(N, G)`` float32 matrix and the list of G genre names.
    """
    names = sorted(set().union(*movies["genres"]))
    lookup = movies.set_index("item")["genres"]
    matrix = np.zeros((len(items), len(names)), dtype=np.float32)
    column = {g: j for j, g in enumerate(names)}
    for row, item in enumerate(items):
        for g in lookup.get(item, ()):
            matrix[row, column[g]] = 1.0
    return matrix, names


def item_text(data_dir: Path, top_tags: int = 5, *, strict: bool = False) -> pd.DataFrame:
    """Text per movie for prompts and embeddings.

    Returns:
        ``item``, ``title``, ``year``, ``genres``, ``tags`` (most used tags, ties by name)
        and ``text``, e.g. "Toy Story (1995). Genres: Adventure, Animation. Tags: pixar, fun."
    """
    movies = load_movies(data_dir, strict=strict)
    tags = load_tags(data_dir, strict=strict)
    counts = tags.groupby(["item", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["item", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("item")["tag"].apply(lambda s: tuple(s.head(top_tags)))
    out = movies[["item", "title", "year", "genres"]].copy()
    out["tags"] = out["item"].map(top).map(lambda t: t if isinstance(t, tuple) else ())
    out["text"] = [_describe(t, g, tg) for t, g, tg in zip(out["title"], out["genres"], out["tags"])]
    return out.reset_index(drop=True)


def _describe(title: str, genres: tuple[str, ...], tags: tuple[str, ...]) -> str:
    parts = [f"{title}."]
    if genres:
        parts.append(f"Genres: {', '.join(genres)}.")
    if tags:
        parts.append(f"Tags: {', '.join(tags)}.")
    return " ".join(parts)
