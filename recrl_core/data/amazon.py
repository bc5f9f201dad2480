"""Read the Amazon Reviews 2018 Books slice (fantasy/romance) into the interaction schema.

This is the data behind Shielded RecRL's fantasy/romance Amazon Books set. It is
**online only**: Amazon review data is for research use with no redistribution
grant, so the book never ships it and only full-mode scripts read it.

Files (McAuley lab, Amazon Review Data 2018), gzipped JSON lines, one object a line:

- ``Books_5.json.gz`` ("5-core" reviews): reviewerID, asin, overall (1-5 stars),
  unixReviewTime (Unix seconds, day resolution).
- ``meta_Books.json.gz``: asin, title, category (the category path, a list of
  strings such as ``["Books", "Literature & Fiction", "Romance"]``), brand
  (often the author); the other fields are ignored.

Layout: ``<data_dir>/amazon-books/`` holding both files under those names.
The real files are gigabytes, so they are streamed line by line and only the
needed fields of the needed books are kept.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from recrl_core.data import interactions
from recrl_core.data.files import require_file

DATASET = "amazon-books"
FOLDER = "amazon-books"
REVIEWS, META = "Books_5.json.gz", "meta_Books.json.gz"
# Official download addresses. Upstream publishes no checksum, so none is
# verified; the lab may ask readers to fill in a form before granting access.
URLS = {
    REVIEWS: "https://jmcauley.ucsd.edu/data/amazon_v2/categoryFilesSmall/Books_5.json.gz",
    META: "https://jmcauley.ucsd.edu/data/amazon_v2/metaFiles2/meta_Books.json.gz",
}
REVIEW_FIELDS = ("reviewerID", "asin", "overall", "unixReviewTime")
STARS = (1.0, 5.0)                       # the range of 'overall'
SLICE_GENRES = ("Fantasy", "Romance")    # Shielded RecRL's slice


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, parsed object) for each non-blank line of a gzipped JSON-lines file.

    Raises:
        ValueError: naming the file and line of malformed JSON, or a broken gzip stream.
    """
    line_no = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    yield line_no, _parse(path, line_no, line)
    except (OSError, EOFError, UnicodeDecodeError) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: cannot be read as gzipped UTF-8 text after line {line_no} "
                         f"({err}). Download the file again.") from err


def _parse(path: Path, line_no: int, line: str) -> dict:
    """Parse one JSON object, with an error that names the file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {line_no} is not valid JSON ({err.msg})") from err
    if not isinstance(record, dict):
        raise ValueError(f"{path}: line {line_no} is not a JSON object")
    return record


def _field(record: dict, name: str, path: Path, line_no: int):
    """``record[name]``, or a ValueError naming the missing field, file and line."""
    if name not in record:
        raise ValueError(f"{path}: line {line_no} has no field '{name}'")
    return record[name]


def _in_genres(categories: list[str], genres: Sequence[str]) -> bool:
    """True if any element of the category path equals a genre (case-insensitive)."""
    wanted = {g.casefold() for g in genres}
    return any(str(c).strip().casefold() in wanted for c in categories)


def read_books(path: Path, genres: Sequence[str]) -> dict[str, dict]:
    """Metadata of the books in ``genres``, keyed by asin (first line wins for duplicates).

    ``title``, ``category`` and ``brand`` may be absent in real metadata lines;
    absent means empty (such a book matches no genre). ``asin`` is required.

    Returns:
        {asin: {"title": str, "categories": list[str], "brand": str}}
    """
    books: dict[str, dict] = {}
    seen: set[str] = set()  # every asin met so far, in a genre or not: the first line decides
    for line_no, record in _records(path):
        asin = str(_field(record, "asin", path, line_no))
        categories = record.get("category") or []
        if asin in seen:
            continue
        seen.add(asin)
        if not _in_genres(categories, genres):
            continue
        books[asin] = {"title": str(record.get("title") or "").strip(),
                       "categories": [str(c) for c in categories],
                       "brand": str(record.get("brand") or "").strip()}
    return books


def read_reviews(path: Path, asins: set[str]) -> pd.DataFrame:
    """Reviews of the books in ``asins``, with string ids.

    Returns:
        frame with columns user (reviewerID), item (asin), time (int64), value (float64).
    Raises:
        ValueError: a malformed line, a missing field, a non-numeric rating/time, or a
            rating outside 1-5 stars (names the file and line).
    """
    rows = []
    for line_no, record in _records(path):
        user, asin, rating, time = (_field(record, f, path, line_no) for f in REVIEW_FIELDS)
        if asin not in asins:
            continue
        try:
            row = (str(user), str(asin), int(time), float(rating))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: line {line_no}: 'overall' must be a number and "
                             f"'unixReviewTime' a whole number ({err})") from err
        if not STARS[0] <= row[3] <= STARS[1]:
            raise ValueError(f"{path}: line {line_no}: 'overall' must be a star rating from "
                             f"{STARS[0]} to {STARS[1]}, got {rating!r}. Download the file again.")
        rows.append(row)
    return pd.DataFrame(rows, columns=["user", "item", "time", "value"])


def _most_active(reviews: pd.DataFrame, max_users: int | None) -> pd.DataFrame:
    """Keep the ``max_users`` users with the most reviews (ties: smaller reviewerID first)."""
    if max_users is None:
        return reviews
    counts = reviews.groupby("user").size().rename("n").reset_index()
    keep = counts.sort_values(["n", "user"], ascending=[False, True])["user"].head(max_users)
    return reviews[reviews["user"].isin(set(keep))]


def _items_table(books: dict[str, dict], asins: pd.Index) -> pd.DataFrame:
    """Items table for the kept books, ``item`` = position of the asin in sorted order."""
    rows = []
    for item, asin in enumerate(asins):
        book = books[asin]
        author = f" by {book['brand']}" if book["brand"] else ""
        path = " > ".join(book["categories"])
        rows.append((item, asin, book["title"], book["categories"],
                     f"{book['title']}{author} — categories: {path}"))
    return pd.DataFrame(rows, columns=["item", "asin", "title", "categories", "text"])


def load_interactions(data_dir: Path, *, genres: Sequence[str] = SLICE_GENRES,
                      core: int = 5, max_users: int | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reviews of fantasy/romance books as interactions, plus an items table.

    Steps: keep books whose category path has an element equal to one of
    ``genres`` (case-insensitive); keep one review per (user, book), the
    earliest; keep the ``max_users`` most active users; apply the iterative
    ``core``-core filter; give users and items integer ids 0..U-1 / 0..N-1 in
    sorted order of reviewerID / asin.

    Args:
        data_dir: folder holding ``amazon-books/``.
        genres: category-path elements to keep.
        core: k of the k-core filter on users and items.
        max_users: cap on users (None = all), applied before the k-core filter.
    Returns:
        (interactions, items): interactions in the schema with event="review",
        value = star rating, sorted by (user, time, item); items with columns
        item, asin, title, categories (list of str), text.
    Raises:
        FileNotFoundError: a file is missing (the message names RECRL_DATA_DIR).
        ValueError: malformed line or missing field (names file and line), or
            nothing left after filtering.
    """
    folder = Path(data_dir) / FOLDER
    hint = "download it from the McAuley lab (URLs in recrl_core.data.amazon.URLS; may need their form)"
    books = read_books(require_file(folder / META, DATASET, hint), genres)
    reviews = read_reviews(require_file(folder / REVIEWS, DATASET, hint), set(books))
    # The 2018 dumps repeat some reviews verbatim; one (user, book) pair is one event.
    reviews = reviews.sort_values(["user", "item", "time"], kind="stable")
    reviews = reviews.drop_duplicates(["user", "item"], keep="first")
    reviews = _most_active(reviews, max_users)
    if reviews.empty:
        raise ValueError(f"{folder}: no reviews of books in genres {list(genres)}")
    reviews = interactions.k_core(reviews, core, source=DATASET)
    users = pd.Index(sorted(reviews["user"].unique()))
    asins = pd.Index(sorted(reviews["item"].unique()))
    frame = reviews.assign(user=users.get_indexer(reviews["user"]),
                           item=asins.get_indexer(reviews["item"]), event="review")
    frame = interactions.validate(frame, source=f"{DATASET} {REVIEWS}")
    return interactions.sort_chronologically(frame), _items_table(books, asins)
