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
               integer: Sequence[str] = (), sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    """Read a delimited file with a header row and check its columns and number types.

    Args:
        path: the file.
        columns: column names that must be present (others are kept).
        numeric: columns that must parse as numbers (no missing values).
        integer: columns that must parse as whole numbers (ids, timestamps).
    Returns:
        the table; ``integer`` columns as int64, other ``numeric`` columns as float64.
    Raises:
        ValueError: naming the file, the column and the first bad line.
    """
    # Tab-separated HetRec files are not quoted: a '"' is part of a name ("Weird Al" Yankovic).
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    try:
        frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
                            quoting=quoting)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot be parsed as a '{sep}'-separated table ({err}). {REMEDY}") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}. {REMEDY}")
    for col in (*numeric, *integer):
        frame[col] = _to_number(frame[col], path, col, whole=col in integer)
    return frame


def _to_number(values: pd.Series, path: Path, col: str, *, whole: bool) -> pd.Series:
    parsed = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = parsed.isna() | (np.isfinite(parsed) == False)  # noqa: E712  (NaN and inf both bad)
    if whole:
        bad |= parsed.notna() & (parsed != np.floor(parsed.fillna(0)))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{path}: column '{col}' must hold {kind}; line {row + 2} has "
                         f"{values.iloc[row]!r}. {REMEDY}")
    return parsed.astype("int64") if whole else parsed.astype("float64")


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
