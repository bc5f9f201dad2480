"""Schema validation, ordering, behaviour labels, k-core and id encoding on hand-checked rows."""

import numpy as np
import pytest

from recrl_core.data import interactions


def test_validate_names_missing_column(tiny_events):
    with pytest.raises(ValueError, match=r"tiny: missing column\(s\) \['value'\]"):
        interactions.validate(tiny_events.drop(columns="value"), source="tiny")


def test_validate_names_column_and_row_of_non_numeric_value(tiny_events):
    bad = tiny_events.astype({"time": object})
    bad.loc[3, "time"] = "yesterday"
    with pytest.raises(ValueError, match=r"tiny: column 'time' row 3 is 'yesterday'"):
        interactions.validate(bad, source="tiny")


def test_validate_rejects_empty_and_negative_ids(tiny_events):
    with pytest.raises(ValueError, match="no interactions"):
        interactions.validate(tiny_events.iloc[:0], source="tiny")
    neg = tiny_events.copy()
    neg.loc[0, "user"] = -1
    with pytest.raises(ValueError, match="non-negative"):
        interactions.validate(neg, source="tiny")


def test_sort_breaks_time_ties_by_item(tiny_events):
    ordered = interactions.sort_chronologically(tiny_events.sample(frac=1.0, random_state=1))
    user2 = ordered[ordered["user"] == 2]
    # user 2 rated items 30 and 50 at the same time 250: item 30 first
    assert user2["item"].tolist() == [10, 30, 50, 20]


def test_label_behaviour_threshold_is_inclusive(tiny_events):
    labels = interactions.label_behaviour(tiny_events, purchase_threshold=4.0)
    assert labels.tolist()[:4] == ["purchase", "click", "purchase", "click"]   # 5.0, 3.0, 4.0, 2.5


def test_k_core_iterates_to_a_fixed_point(tiny_events):
    # Hand-checked: k=3 drops items 40, 60; then users 4, 5; then item 50 -> 3 users x 3 items.
    core = interactions.k_core(tiny_events, 3)
    assert sorted(core["user"].unique()) == [1, 2, 3]
    assert sorted(core["item"].unique()) == [10, 20, 30]
    assert len(core) == 9


def test_k_core_empty_result_is_an_error(tiny_events):
    with pytest.raises(ValueError, match="empty after the 10-core filter"):
        interactions.k_core(tiny_events, 10)


def test_encode_gives_contiguous_sorted_ids_and_padding_id(tiny_events):
    enc = interactions.encode(tiny_events)
    assert enc.items.tolist() == [10, 20, 30, 40, 50, 60]
    assert enc.pad_id == enc.num_items == 6
    assert enc.frame.loc[0, ["user_idx", "item_idx"]].tolist() == [0, 0]
    assert enc.item_index([60, 10]).tolist() == [5, 0]
    with pytest.raises(KeyError, match=r"unknown item id\(s\) \[99\]"):
        enc.item_index([99])


def test_encode_with_catalogue_keeps_unrated_items(tiny_events):
    enc = interactions.encode(tiny_events, catalogue=np.array([10, 20, 30, 40, 50, 60, 70]))
    assert enc.num_items == 7
    with pytest.raises(ValueError, match="not in the catalogue"):
        interactions.encode(tiny_events, catalogue=np.array([10, 20]))
