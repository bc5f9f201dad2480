"""Read HetRec 2011 Last.fm-2k into the interaction schema, ordered by first tag date.

What an event means here, plainly:

- **There are no listening timestamps.** ``user_artists.dat`` holds one total
  play count per (user, artist) and no time. The only dates in the dataset are
  the dates on which a user *tagged* an artist (``user_taggedartists.dat``).
- So one interaction is one (user, artist) pair, placed at the pair's
  **earliest tag date**, with ``event="tag"``: an event means "the user tagged
  this artist". ``value`` is the pair's play count, or 0.0 if the user tagged
  the artist but never listened to it in ``user_artists.dat``.
- The dates have **monthly resolution** (``day`` is 1 in 182,948 of 186,479
  rows), so most of a user's pairs share a date with another pair. Within a
  user and a date the order is play count descending, then artist id: the
  returned frame is already in this *sequence order* (see :func:`sequence_order`).
  Note that :func:`recrl_core.data.interactions.sort_chronologically`, which
  sorts by (user, time, item), would lose the play-count tie-break.
- ``listened_only=True`` keeps the "tagged and listened" pairs only (20,665 of
  the 71,064 tagged pairs in the raw files).

Layout: ``<data_dir>/hetrec2011-lastfm-2k/`` with the files of the official zip.
Licence: non-commercial use only; load at run time, never publish the files.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recrl_core.data import checksums, files, interactions
from recrl_core.data.files import read_table, require_file

DATASET = "hetrec2011-lastfm-2k"   # = checksums.LASTFM.name, the download command's name
FOLDER = "hetrec2011-lastfm-2k"
# Tag dates before this year are data-entry errors: 5 rows dated 1956, 1957 and
# 1979, years before Last.fm existed (2002) and before all other dates (2005-2011).
FIRST_VALID_YEAR = 2005
SEQUENCE_KEYS = ["user", "time", "value", "item"]
SEQUENCE_ASCENDING = [True, True, False, True]  # play count descending breaks date ties
UNKNOWN_ARTISTS = ("keep", "drop")   # what load_interactions does with artists missing from artists.dat


def _read(data_dir: Path, name: str, columns: Sequence[str], *, integer: Sequence[str] = (),
          encoding: str = "utf-8") -> pd.DataFrame:
    """Read one tab-separated file of the dataset with checked columns."""
    path = require_file(Path(data_dir) / FOLDER / name, DATASET)
    checksums.check_file(path, checksums.LASTFM, strict=False)   # warn: a different copy is usable
    return read_table(path, columns, integer=integer, sep="\t", encoding=encoding)


def _tag_dates(data_dir: Path) -> pd.DataFrame:
    """Tag assignments with a ``time`` column (Unix seconds, UTC, midnight of the tag date).

    Returns:
        frame with columns userID, artistID, tagID, time; one row per valid tag assignment.
    Raises:
        ValueError: naming the file and line of an impossible date (e.g. month 13).
    """
    cols = ["userID", "artistID", "tagID", "day", "month", "year"]
    tagged = _read(data_dir, "user_taggedartists.dat", cols, integer=cols)
    tagged = tagged[tagged["year"] >= FIRST_VALID_YEAR]
    dates = pd.to_datetime(tagged[["year", "month", "day"]], errors="coerce", utc=True)
    if dates.isna().any():
        row = dates.index[dates.isna().to_numpy()][0]  # original row label = file line - 2
        bad = tagged.loc[row, ["day", "month", "year"]].tolist()
        raise ValueError(f"{Path(data_dir) / FOLDER / 'user_taggedartists.dat'}: line {row + 2} "
                         f"has an impossible date (day, month, year) = {bad}")
    seconds = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return tagged.assign(time=seconds.astype("int64"))[["userID", "artistID", "tagID", "time"]]


def _play_counts(data_dir: Path) -> pd.DataFrame:
    """Play counts: columns userID, artistID, weight (int64), one row per listened pair.

    Raises:
        ValueError: naming the file and line of a negative play count.
    """
    cols = ["userID", "artistID", "weight"]
    plays = _read(data_dir, "user_artists.dat", cols, integer=cols)
    files.check_rows(Path(data_dir) / FOLDER / "user_artists.dat", "weight", plays["weight"],
                     plays["weight"].to_numpy() >= 0, "a play count >= 0")
    return plays


def sequence_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Re-sort Last.fm interactions into sequence order: (user, time, -value, item).

    Within one user and one (monthly) tag date, more-played artists come first,
    then lower artist ids, so the order is deterministic.

    Args:
        frame: interactions in the schema.
    Returns:
        the same rows, sorted, with a fresh 0..len-1 index.
    """
    return frame.sort_values(SEQUENCE_KEYS, ascending=SEQUENCE_ASCENDING,
                             kind="stable").reset_index(drop=True)


def load_interactions(data_dir: Path, *, listened_only: bool = False,
                      unknown_artists: str | None = None) -> pd.DataFrame:
    """One interaction per tagged (user, artist) pair, at its earliest tag date.

    Artists missing from ``artists.dat``: the official ``user_taggedartists.dat``
    has 767 pairs (390 artist ids) whose artist is not in ``artists.dat`` (125
    of them survive a 5-core). They are official data and the book keeps them, as
    items without a name (spec-lastfm); a caller who has not chosen gets them kept
    with one ``UserWarning`` per call that counts them, so they never load unnoticed.

    Args:
        data_dir: folder holding ``hetrec2011-lastfm-2k/``.
        listened_only: keep only pairs that also appear in ``user_artists.dat``.
        unknown_artists: ``"keep"`` or ``"drop"`` (remove those pairs), silently: the
            caller chose; None (default): keep them and warn with the counts.
    Returns:
        schema frame (user, item, time, value, event="tag"), one row per pair,
        already in sequence order (user, time, -value, item). ``item`` is the
        artist id; ``value`` the play count (0.0 for tagged-but-never-listened).
    Raises:
        FileNotFoundError: a file is missing (the message names RECRL_DATA_DIR).
        ValueError: a malformed file (names file, column and line), a negative
            play count, or an ``unknown_artists`` other than "keep" / "drop".
    """
    if unknown_artists is not None and unknown_artists not in UNKNOWN_ARTISTS:
        raise ValueError(f"unknown_artists={unknown_artists!r}; choose from {UNKNOWN_ARTISTS}")
    tagged = _tag_dates(data_dir)
    first = tagged.groupby(["userID", "artistID"], as_index=False)["time"].min()
    plays = _play_counts(data_dir)
    merged = first.merge(plays, on=["userID", "artistID"], how="left", indicator=True)
    if listened_only:
        merged = merged[merged["_merge"] == "both"]
    frame = pd.DataFrame({
        "user": merged["userID"].to_numpy(),
        "item": merged["artistID"].to_numpy(),
        "time": merged["time"].to_numpy(),
        "value": merged["weight"].fillna(0.0).to_numpy(dtype="float64"),
        "event": "tag",
    })
    frame = _unknown_artists(frame, load_artists(data_dir)["item"], unknown_artists)
    return sequence_order(interactions.validate(frame, source=f"{DATASET} user_taggedartists.dat"))


def _unknown_artists(frame: pd.DataFrame, known: pd.Series, policy: str | None) -> pd.DataFrame:
    """Keep or drop the pairs whose artist is not in ``known``; no policy: keep, warning once with the counts."""
    unknown = ~frame["item"].isin(known).to_numpy()
    if not unknown.any():
        return frame
    if policy == "drop":
        return frame[~unknown]
    if policy == "keep":
        return frame
    warnings.warn(
        f"{DATASET}: {int(unknown.sum())} tagged (user, artist) pairs name "
        f"{frame['item'][unknown].nunique()} artist ids that are not in artists.dat; they are kept "
        "as items without a name. Choose explicitly with unknown_artists='keep' (no warning) or "
        "unknown_artists='drop' (then pass the frame to prepare.prepare_events).", UserWarning, stacklevel=3)
    return frame


def load_artists(data_dir: Path) -> pd.DataFrame:
    """Artist names from ``artists.dat``.

    Note: 1,538 tag rows name artist ids that are not in ``artists.dat``; those
    artists have no name.

    Returns:
        frame with columns item (int64 artist id), name (str), one row per artist.
    """
    artists = _read(data_dir, "artists.dat", ["id", "name"], integer=["id"])
    return pd.DataFrame({"item": artists["id"], "name": artists["name"].str.strip()})


def _top_tags(data_dir: Path, top_tags: int) -> pd.Series:
    """Each artist's ``top_tags`` most frequent tag values (ties by tag value).

    Returns:
        Series indexed by artist id, holding lists of tag strings.
    """
    names = _read(data_dir, "tags.dat", ["tagID", "tagValue"], integer=["tagID"],
                  encoding="latin-1")  # tags.dat is Latin-1, unlike artists.dat
    # Counting uses every tag row, including the 5 with invalid years: the year
    # says nothing about whether the tag describes the artist.
    cols = ["userID", "artistID", "tagID", "day", "month", "year"]
    tagged = _read(data_dir, "user_taggedartists.dat", cols, integer=cols)
    counts = tagged.groupby(["artistID", "tagID"]).size().rename("count").reset_index()
    counts = counts.merge(names, on="tagID", how="inner")
    counts = counts.sort_values(["artistID", "count", "tagValue"], ascending=[True, False, True])
    top = counts.groupby("artistID").head(top_tags)
    return top.groupby("artistID", sort=True)["tagValue"].agg(list)


def item_text(data_dir: Path, top_tags: int = 5) -> pd.DataFrame:
    """Text for each artist: its name and most frequent tags, for prompts and embeddings.

    Args:
        data_dir: folder holding ``hetrec2011-lastfm-2k/``.
        top_tags: how many tags to keep per artist.
    Returns:
        frame with columns item, name, tags (list of str, most frequent first,
        possibly empty), text (``"Name — tags: rock, indie"``, or just the name
        when the artist has no tags); one row per artist in ``artists.dat``.
    """
    artists = load_artists(data_dir)
    tags = _top_tags(data_dir, top_tags)
    artists["tags"] = [list(tags.get(item, [])) for item in artists["item"]]
    artists["text"] = [f"{name} — tags: {', '.join(t)}" if t else name
                       for name, t in zip(artists["name"], artists["tags"])]
    return artists
