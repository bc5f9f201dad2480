"""The one interaction schema every dataset is read into, and its validation.

| column   | dtype   | meaning                                                        |
|----------|---------|----------------------------------------------------------------|
| user     | int64   | the dataset's own user id                                      |
| item     | int64   | the dataset's own item id                                      |
| time     | int64   | Unix seconds (Last.fm: first tag date, monthly resolution)     |
| value    | float64 | explicit feedback: rating (MovieLens, Amazon) or play count    |
| event    | string  | what was logged: ``"rating"``, ``"tag"``, ``"review"``          |

Behaviour labels for RL ("purchase"-like vs "click"-like) are *derived* from
``value`` by :func:`label_behaviour`, with the threshold as a config field.

Your own log enters the schema through :func:`read_csv` (a delimited file with a
header, any column names, a mapping to the schema) or, as a DataFrame, through
:func:`validate`; then ``prepare.prepare_events`` runs the book's pipeline on it.

Taught in: sec-interaction-logs
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recrl_core.data import files

COLUMNS = ("user", "item", "time", "value", "event")
INT_COLUMNS = ("user", "item", "time")
PURCHASE, CLICK = "purchase", "click"
# The last sentence of read_csv's errors, per schema column: what to do about it.
CSV_REMEDY = {
    "user": "Ids must be whole numbers >= 0; encode other ids first, e.g. "
            "`codes, names = pandas.factorize(ids)`, and keep `names` to map back.",
    "time": "Times must be Unix seconds (whole numbers); convert dates first, e.g. "
            "`(pandas.to_datetime(dates, utc=True) - pandas.Timestamp(0, tz='UTC')) "
            "// pandas.Timedelta(seconds=1)`.",
    "value": "Values must be finite numbers; a log without one (implicit feedback) can pass value=1.0.",
    "event": "Fix the line, or pass event='...' to use one event name for every line.",
}
CSV_REMEDY["item"] = CSV_REMEDY["user"]
MAPPING_REMEDY = ("Name the file's columns with columns={schema column: file column}; "
                  f"the schema is {list(COLUMNS)}; pass event='...' (and value=...) for a "
                  "column the file does not have.")


def validate(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check ``frame`` against the schema and return it with canonical dtypes and order.

    Raises:
        ValueError: naming ``source``, the column and the first offending row.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; the schema is {list(COLUMNS)}")
    if frame.empty:
        raise ValueError(f"{source}: no interactions (empty after loading or filtering)")
    out = frame.loc[:, list(COLUMNS)].reset_index(drop=True)
    for col in (*INT_COLUMNS, "value"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source}: column '{col}' row {row} is {out[col].iloc[row]!r}, not a number")
        out[col] = values.astype("float64" if col == "value" else "int64")
    if (out["user"] < 0).any() or (out["item"] < 0).any():
        raise ValueError(f"{source}: user and item ids must be non-negative")
    out["event"] = out["event"].astype(str)
    return out


def read_csv(path: Path, columns: Mapping[str, str] | None = None, *, event: str | None = None,
             value: float | None = None, value_range: tuple[float, float] | None = None,
             sep: str = ",") -> pd.DataFrame:
    """Read your own interaction log, a delimited text file with a header line, into the schema.

    Example: a shop's ``orders.csv`` with the header ``customer,product,ts,stars``::

        read_csv("orders.csv", {"user": "customer", "item": "product", "time": "ts",
                                "value": "stars"}, event="rating", value_range=(1, 5))

    Args:
        path: the file. Its line 1 is the header, so data row ``r`` is line ``r + 2``;
            blank lines count (and fail), so every line number in an error is the editor's.
        columns: ``{schema column: file column}``; schema columns left out are read
            from a file column of the same name. None: the file uses the schema names.
            Other file columns are ignored.
        event: one event name for every line, for a file without an event column.
        value: one value for every line, for a file without a value column
            (implicit feedback: 1.0, so every event is a purchase at the default threshold).
        value_range: ``(low, high)``, inclusive: every value must lie in it (e.g. (1, 5)
            for stars); None: any finite number.
        sep: the field separator ("," or "\\t" for tab-separated files).
    Returns:
        (E, 5) schema frame with canonical dtypes, one row per data line, in file order.
        ``time`` must be Unix seconds (whole numbers); date strings are not parsed.
    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a key of ``columns`` that is not a schema column, a column both
            mapped and given as a constant, an empty file, a missing column, or a
            bad line: each names the file, the column, the line and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    mapping, constants = dict(columns or {}), {"event": event, "value": value}
    unknown = [c for c in mapping if c not in COLUMNS]
    if unknown:
        raise ValueError(f"columns: {unknown} are not schema columns. {MAPPING_REMEDY}")
    for col, constant in constants.items():
        if constant is not None and col in mapping:
            raise ValueError(f"{path}: '{col}' is both read from column '{mapping[col]}' and given "
                             f"as {col}={constant!r}; use one of the two")
    wanted = {c: mapping.get(c, c) for c in COLUMNS if constants.get(c) is None}   # schema -> file
    raw = files.read_table(path, list(wanted.values()), sep=sep, remedy=MAPPING_REMEDY)
    if raw.empty:
        raise ValueError(f"{path}: no interactions: the file has a header but no data lines")
    out = {}
    for col, name in wanted.items():
        if col == "event":
            out[col] = raw[name].fillna("").str.strip()
            files.check_rows(path, name, raw[name], out[col].to_numpy() != "", "an event name",
                             remedy=CSV_REMEDY[col])
            continue
        out[col] = files.to_number(raw[name], path, name, whole=col in INT_COLUMNS, remedy=CSV_REMEDY[col])
        if col in ("user", "item"):
            files.check_rows(path, name, out[col], out[col].to_numpy() >= 0, "a whole number >= 0",
                             remedy=CSV_REMEDY[col])
    frame = pd.DataFrame({col: out[col] if col in out else constants[col] for col in COLUMNS})
    if value_range is not None:
        low, high = value_range
        values = frame["value"].to_numpy()
        files.check_rows(path, wanted.get("value", "value"), frame["value"], (values >= low) & (values <= high),
                         f"a value in [{low}, {high}] (value_range)",
                         remedy="Fix the line, or widen value_range if the scale is larger.")
    return validate(frame, source=str(path))


def sort_chronologically(frame: pd.DataFrame) -> pd.DataFrame:
    """Order by (user, time, item): ties on time are broken by item id, deterministically.

    23,228 ml-latest-small ratings share a (user, timestamp) with another one.
    """
    return frame.sort_values(["user", "time", "item"], kind="stable").reset_index(drop=True)


def label_behaviour(frame: pd.DataFrame, purchase_threshold: float) -> pd.Series:
    """``"purchase"`` where ``value >= purchase_threshold``, else ``"click"`` (a string Series)."""
    return pd.Series(np.where(frame["value"].to_numpy() >= purchase_threshold, PURCHASE, CLICK),
                     index=frame.index, name="behaviour")


def k_core(frame: pd.DataFrame, k: int, source: str = "interactions") -> pd.DataFrame:
    """Iteratively drop users and items with fewer than ``k`` interactions until none remain.

    Raises:
        ValueError: if nothing survives the filter.
    """
    out = frame
    while True:
        users = out["user"].map(out["user"].value_counts())
        items = out["item"].map(out["item"].value_counts())
        keep = (users >= k) & (items >= k)
        if keep.all():
            break
        out = out[keep]
    if out.empty:
        raise ValueError(f"{source}: empty after the {k}-core filter; lower k or use more data")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Encoded:
    """Interactions with contiguous ids: ``user_idx`` in [0, U), ``item_idx`` in [0, N).

    ``items[i]`` is the raw item id of index ``i``; index ``N`` is the padding id
    used in padded histories (so scores over ``N`` items line up with indices).
    """

    frame: pd.DataFrame  # schema columns + user_idx, item_idx
    users: np.ndarray    # (U,) raw user ids
    items: np.ndarray    # (N,) raw item ids

    @property
    def num_items(self) -> int:
        return len(self.items)

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def pad_id(self) -> int:
        return len(self.items)

    def item_index(self, raw_ids) -> np.ndarray:
        """Map raw item ids to indices; unknown ids raise ``KeyError`` naming them."""
        lookup = pd.Index(self.items)
        idx = lookup.get_indexer(np.asarray(raw_ids))
        if (idx < 0).any():
            unknown = np.asarray(raw_ids)[idx < 0][:5].tolist()
            raise KeyError(f"unknown item id(s) {unknown}: not in this dataset's catalogue")
        return idx


def encode(frame: pd.DataFrame, catalogue: np.ndarray | None = None) -> Encoded:
    """Give users and items contiguous indices (sorted by raw id).

    Args:
        frame: validated interactions.
        catalogue: raw item ids to index (default: items in ``frame``). Passing the
            full catalogue keeps never-rated items rankable.
    """
    users = np.unique(frame["user"].to_numpy())
    items = np.unique(frame["item"].to_numpy() if catalogue is None else np.asarray(catalogue))
    out = frame.copy()
    out["user_idx"] = np.searchsorted(users, out["user"].to_numpy())
    item_idx = np.searchsorted(items, out["item"].to_numpy())
    item_idx = np.minimum(item_idx, len(items) - 1)
    if (items[item_idx] != out["item"].to_numpy()).any():
        raise ValueError("encode: the interactions name items that are not in the catalogue")
    out["item_idx"] = item_idx
    return Encoded(frame=out, users=users, items=items)
