"""Reading raw tables with errors that name the file, column and row; atomic writes.

Every loader goes through :func:`read_table`, so a malformed file always fails
the same way: a ``ValueError`` that says which file, which column, which line,
and what to do about it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

REMEDY = ("Re-download the dataset with `python -m recrl_core.data.download`, "
          "or point RECRL_DATA_DIR at an intact copy.")


def require_file(path: Path, dataset: str, fetch_hint: str | None = None) -> Path:
    """Return ``path`` if it is a file; otherwise raise an error naming RECRL_DATA_DIR.

    ``fetch_hint`` says how to obtain the file; default: the download command.
    """
    if not path.is_file():
        hint = fetch_hint or f"fetch it with `python -m recrl_core.data.download {dataset}` (needs network)"
        raise FileNotFoundError(
            f"{dataset}: missing file {path}. Set RECRL_DATA_DIR to a folder holding "
            f"'{path.parent.name}/{path.name}', or {hint}.")
    return path


def read_table(path: Path, columns: Sequence[str], *, numeric: Sequence[str] = (),
               integer: Sequence[str] = (), sep: str = ",", encoding: str = "utf-8",
               remedy: str = REMEDY) -> pd.DataFrame:
    """Read a delimited file with a header row and check its columns and number types.

    Row ``r`` of the result is line ``r + 2`` of the file (the header is line 1):
    blank lines are kept as rows, so they fail the number checks instead of
    shifting the line numbers of every later error.

    Args:
        path: the file.
        columns: column names that must be present (others are kept).
        numeric: columns that must parse as numbers (no missing values).
        integer: columns that must parse as whole numbers (ids, timestamps).
        remedy: the last sentence of every error (default: re-download the dataset).
    Returns:
        the table; ``integer`` columns as int64, other ``numeric`` columns as float64.
    Raises:
        ValueError: naming the file, the column and the first bad line.
    """
    # Tab-separated HetRec files are not quoted: a '"' is part of a name ("Weird Al" Yankovic).
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
                            quoting=quoting, skip_blank_lines=False)
    except pd.errors.EmptyDataError as err:
        raise ValueError(f"{path}: the file is empty; expected a header line naming the columns "
                         f"{list(columns)}. {remedy}") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be parsed as a '{sep}'-separated table ({err}). {remedy}") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}. {remedy}")
    for col in (*numeric, *integer):
        frame[col] = to_number(frame[col], path, col, whole=col in integer, remedy=remedy)
    return frame


def to_number(values: pd.Series, path: Path, col: str, *, whole: bool, remedy: str = REMEDY) -> pd.Series:
    """Parse strings read by :func:`read_table` (row ``r`` = line ``r + 2``) as numbers.

    Returns:
        int64 (``whole``) or float64 values, same index.
    Raises:
        ValueError: naming the file, the column and the first line that is not a
            (whole) finite number, then ``remedy``.
    """
    parsed = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = parsed.isna() | (np.isfinite(parsed) == False)  # noqa: E712  (NaN and inf both bad)
    if whole:
        bad |= parsed.notna() & (parsed != np.floor(parsed.fillna(0)))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{path}: column '{col}' must hold {kind}; line {row + 2} has "
                         f"{values.iloc[row]!r}. {remedy}")
    return parsed.astype("int64") if whole else parsed.astype("float64")


def check_rows(path: Path, column: str, values: pd.Series, ok, rule: str, *,
               remedy: str = REMEDY) -> None:
    """Raise unless ``ok`` holds on every row of a table read by :func:`read_table`.

    Args:
        path: the file the rows came from (row ``r`` is line ``r + 2``).
        column: the file's column name, for the message.
        values: (R,) the column's values, in file order (no rows dropped).
        ok: (R,) bool, True where the row is valid.
        rule: what the column must hold, e.g. "a half-star rating 0.5, 1.0, ..., 5.0".
    Raises:
        ValueError: naming the file, the column, the first bad line and its value,
            how many lines are bad, and ``remedy``.
    """
    bad = ~np.asarray(ok, dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = values.iloc[row]
        shown = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"{path}: column '{column}' must hold {rule}; line {row + 2} has {shown!r} "
                         f"({int(bad.sum())} such line(s)). {remedy}")


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    A crash or an exception leaves no half-written ``target`` behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target``.

    For outputs made of several files (checkpoints, converted models): readers see
    the old folder or the complete new one, never a mix.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
