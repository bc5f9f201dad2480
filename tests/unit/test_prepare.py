"""prepare_events: the book's pipeline on events you bring, hand-checked on tests/data/tiny_events.csv.

With min_core=3 the k-core keeps users 1, 2, 3 and items 10, 20, 30 (test_interactions),
three events per user; by time:
user 1: 10 (5.0), 20 (3.0), 30 (4.0); user 2: 10 (4.0), 30 (1.0), 20 (3.5);
user 3: 20 (4.0), 10 (5.0), 30 (2.0). Ids: users 1, 2, 3 -> 0, 1, 2; items 10, 20, 30 -> 0, 1, 2.
leave_last_out: each user's third event is test, second is validation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recrl_core.data import lastfm, prepare


def _cfg(**overrides) -> prepare.DataConfig:
    return prepare.DataConfig(**{"dataset": "my-shop", "min_core": 3, "split": "leave_last_out",
                                 "history_len": 4, **overrides})


def test_hand_checked_splits_histories_and_behaviour(tiny_events):
    p = prepare.prepare_events(tiny_events, _cfg())
    assert p.encoded.items.tolist() == [10, 20, 30] and p.encoded.users.tolist() == [1, 2, 3]
    assert p.labels.tolist() == ["train", "val", "test"] * 3
    assert p.test.target.tolist() == [2, 1, 2]
    np.testing.assert_array_equal(p.test.items, [[0, 1, 3, 3], [0, 2, 3, 3], [1, 0, 3, 3]])  # pad id 3
    assert p.test.behaviour.tolist() == ["purchase", "click", "click"]            # 4.0, 3.5, 2.0
    assert p.val.target.tolist() == [1, 2, 0] and p.val.lengths.tolist() == [1, 1, 1]
    assert p.val.behaviour.tolist() == ["click", "click", "purchase"]             # 3.0, 1.0, 5.0
    assert p.cfg.dataset == "my-shop"


def test_purchase_threshold_and_max_users_apply(tiny_events):
    p = prepare.prepare_events(tiny_events, _cfg(min_core=1, max_users=2, purchase_threshold=4.5))
    assert p.encoded.users.tolist() == [1, 2]                                      # smallest ids
    assert (p.encoded.frame["behaviour"] == "purchase").tolist() == (p.encoded.frame["value"] >= 4.5).tolist()


def test_frame_is_validated_with_the_label_as_source(tiny_events):
    with pytest.raises(ValueError, match=r"my-shop events: missing column\(s\) \['event'\]"):
        prepare.prepare_events(tiny_events.drop(columns="event"), _cfg())
    shuffled_extra = tiny_events.sample(frac=1.0, random_state=0).assign(note="x")
    a, b = prepare.prepare_events(shuffled_extra, _cfg()), prepare.prepare_events(tiny_events, _cfg())
    pd.testing.assert_frame_equal(a.encoded.frame, b.encoded.frame)               # order and extras do not matter


def test_genres_are_refused_because_nothing_could_apply_them(tiny_events):
    with pytest.raises(ValueError, match="prepare_events does not slice by genre"):
        prepare.prepare_events(tiny_events, _cfg(genres=("Fantasy",)))


def test_lastfm_label_picks_the_play_count_tie_break():
    # One user, two artists on the same (monthly) date: 20 was played more, so Last.fm order puts it first.
    events = pd.DataFrame({"user": [1] * 4, "item": [10, 20, 30, 40], "time": [5, 5, 6, 7],
                           "value": [100.0, 500.0, 1.0, 1.0], "event": "tag"})
    kwargs = dict(min_core=1, split="leave_last_out")
    plain = prepare.prepare_events(events, prepare.DataConfig(dataset="my-tags", **kwargs))
    lfm = prepare.prepare_events(events, prepare.DataConfig(dataset=lastfm.DATASET, **kwargs))
    assert plain.encoded.frame["item"].tolist() == [10, 20, 30, 40]
    assert lfm.encoded.frame["item"].tolist() == [20, 10, 30, 40]


def test_unknown_dataset_tells_how_to_bring_your_own(tmp_path):
    with pytest.raises(ValueError) as err:
        prepare.prepare(_cfg(dataset="my-shop"), tmp_path)
    message = str(err.value)
    assert "'my-shop' is not a built-in dataset" in message and "prepare_events(events, cfg)" in message
    for name in ("ml-latest-small", "hetrec2011-lastfm-2k", "amazon-books"):
        assert name in message


def test_lastfm_has_no_genres(tmp_path):
    with pytest.raises(ValueError, match="has no genres"):
        prepare.load_events(prepare.DataConfig(dataset=lastfm.DATASET, genres=("rock",)), tmp_path)
