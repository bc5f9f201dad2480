"""Your own interaction log as a CSV: column mapping, constants, and errors that name file, column and line.

The fixture is a shop's ``orders.csv`` with its own column names
(``customer,product,ts,stars`` plus an ignored ``note``); line 1 is the header.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recrl_core.data import interactions

TESTS = Path(__file__).resolve().parents[1]
ORDERS = """customer,product,ts,stars,note
7,100,1600000000,4.5,first order
7,101,1600000100,2,
8,100,1600000050,5.0,gift
"""
MAPPING = {"user": "customer", "item": "product", "time": "ts", "value": "stars"}


def _write(tmp_path: Path, body: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_mapping_and_constant_event_give_the_schema(tmp_path):
    events = interactions.read_csv(_write(tmp_path, ORDERS), MAPPING, event="rating")
    expected = pd.DataFrame({"user": [7, 7, 8], "item": [100, 101, 100],
                             "time": [1600000000, 1600000100, 1600000050],
                             "value": [4.5, 2.0, 5.0], "event": ["rating"] * 3})
    pd.testing.assert_frame_equal(events, interactions.validate(expected, "expected"))
    assert events.dtypes.astype(str).tolist()[:4] == ["int64", "int64", "int64", "float64"]


def test_schema_named_file_needs_no_mapping(tiny_events):
    pd.testing.assert_frame_equal(interactions.read_csv(TESTS / "data" / "tiny_events.csv"), tiny_events)


def test_partial_mapping_tab_separated_and_constant_value(tmp_path):
    body = "user\tsku\ttime\n1\t5\t10\n2\t5\t20\n"
    events = interactions.read_csv(_write(tmp_path, body, "clicks.tsv"), {"item": "sku"}, event="click",
                                   value=1.0, sep="\t")
    assert events.values.tolist() == [[1, 5, 10, 1.0, "click"], [2, 5, 20, 1.0, "click"]]


def test_event_column_of_the_file_is_used(tmp_path):
    body = "user,item,time,value,kind\n1,5,10,1,view\n1,6,11,1, buy \n"
    events = interactions.read_csv(_write(tmp_path, body), {"event": "kind"})
    assert events["event"].tolist() == ["view", "buy"]


def test_empty_event_name_names_the_line(tmp_path):
    body = "user,item,time,value,kind\n1,5,10,1,view\n1,6,11,1,\n"
    with pytest.raises(ValueError, match=r"orders\.csv: column 'kind' must hold an event name; line 3 has ''"):
        interactions.read_csv(_write(tmp_path, body), {"event": "kind"})


@pytest.mark.parametrize(("line", "column", "bad", "remedy"), [
    ("C17,100,1600000000,4.5", "customer", "'C17'", "pandas.factorize"),
    ("7,1e2.5,1600000000,4.5", "product", "'1e2.5'", "pandas.factorize"),
    ("7,100,2020-09-13,4.5", "ts", "'2020-09-13'", "Unix seconds"),
    ("7,100,1600000000.5,4.5", "ts", "'1600000000.5'", "Unix seconds"),
    ("7,100,1600000000,five", "stars", "'five'", "value=1.0"),
    ("7,100,1600000000,", "stars", "''", "value=1.0"),
])
def test_bad_value_names_file_column_line_and_remedy(tmp_path, line, column, bad, remedy):
    body = ORDERS.replace("7,101,1600000100,2,", line + ",")          # line 3 of the file
    with pytest.raises(ValueError) as err:
        interactions.read_csv(_write(tmp_path, body), MAPPING, event="rating")
    message = str(err.value)
    assert f"orders.csv: column '{column}' must hold a" in message
    assert f"line 3 has {bad}" in message and remedy in message


def test_negative_id_names_the_line(tmp_path):
    body = ORDERS.replace("8,100,", "-8,100,")
    with pytest.raises(ValueError, match=r"column 'customer' must hold a whole number >= 0; line 4 has -8"):
        interactions.read_csv(_write(tmp_path, body), MAPPING, event="rating")


def test_blank_line_keeps_line_numbers_true(tmp_path):
    body = ORDERS.replace("gift\n", "gift\n\n9,100,1600000060,3,\n")
    with pytest.raises(ValueError, match="line 5 has ''"):
        interactions.read_csv(_write(tmp_path, body), MAPPING, event="rating")


def test_missing_mapped_column_lists_the_file_columns_and_the_mapping(tmp_path):
    with pytest.raises(ValueError, match=r"orders\.csv: missing column\(s\) \['rating'\]; found "
                                         r"\['customer', 'product', 'ts', 'stars', 'note'\]\. "
                                         r"Name the file's columns with columns="):
        interactions.read_csv(_write(tmp_path, ORDERS), {**MAPPING, "value": "rating"}, event="rating")


def test_missing_event_column_suggests_a_constant(tmp_path):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['event'\].*pass event="):
        interactions.read_csv(_write(tmp_path, ORDERS), MAPPING)


def test_empty_file_and_header_only_file(tmp_path):
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty; expected a header line"):
        interactions.read_csv(_write(tmp_path, "", "empty.csv"), MAPPING, event="rating")
    with pytest.raises(ValueError, match=r"orders\.csv: no interactions: the file has a header but no data lines"):
        interactions.read_csv(_write(tmp_path, ORDERS.splitlines()[0] + "\n"), MAPPING, event="rating")


def test_mapping_mistakes(tmp_path):
    path = _write(tmp_path, ORDERS)
    with pytest.raises(ValueError, match=r"\['customer'\] are not schema columns.*\{schema column: file column\}"):
        interactions.read_csv(path, {"customer": "user"}, event="rating")        # reversed mapping
    with pytest.raises(ValueError, match=r"'value' is both read from column 'stars' and given as value=1\.0"):
        interactions.read_csv(path, MAPPING, event="rating", value=1.0)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        interactions.read_csv(tmp_path / "nope.csv", MAPPING, event="rating")


def test_value_range_names_the_line_outside_it(tmp_path):
    path = _write(tmp_path, ORDERS.replace("8,100,1600000050,5.0", "8,100,1600000050,50"))
    with pytest.raises(ValueError, match=r"column 'stars' must hold a value in \[1, 5\] \(value_range\); "
                                         r"line 4 has 50\.0 .*widen value_range"):
        interactions.read_csv(path, MAPPING, event="rating", value_range=(1, 5))
    assert interactions.read_csv(path, MAPPING, event="rating", value_range=(1, 50))["value"].max() == 50.0
