"""Splits and history windows, checked against hand-worked examples."""

import numpy as np
import pandas as pd
import pytest

from recrl_core.data import interactions, sequences


def _timeline(n=10):
    return pd.DataFrame({"user": [0] * 5 + [1] * 5, "item": range(n), "time": range(n),
                         "value": 4.0, "event": "rating"})


def test_global_time_split_uses_quantiles_of_the_timeline():
    # quantiles of 0..9 at 0.6 and 0.8 are 5.4 and 7.2 -> train 0-5, val 6-7, test 8-9
    labels = sequences.global_time_split(_timeline(), val_frac=0.2, test_frac=0.2)
    assert labels.tolist() == ["train"] * 6 + ["val"] * 2 + ["test"] * 2


def test_global_time_split_never_trains_on_the_future(tiny_events):
    frame = interactions.sort_chronologically(tiny_events)
    labels = sequences.global_time_split(frame, 0.2, 0.2)
    assert frame["time"][labels == "train"].max() < frame["time"][labels == "test"].min()


def test_leave_last_out_labels_per_user(tiny_events):
    frame = interactions.sort_chronologically(tiny_events)
    labels = sequences.leave_last_out_split(frame)
    user1 = labels[frame["user"] == 1].tolist()          # items 10, 20, 30, 40 by time
    assert user1 == ["train", "train", "val", "test"]
    assert set(labels[frame["user"] == 5]) == {"train"}   # only 2 events: all training


def test_leave_last_out_leaks_future_events_into_training(tiny_events):
    frame = interactions.sort_chronologically(tiny_events)
    labels = sequences.leave_last_out_split(frame)
    # user 1's test event is at t=900, but user 4's training event at t=650 is fine and
    # user 3's test event (t=950)... the leak: some training event is later than some test event
    assert frame["time"][labels == "train"].max() > frame["time"][labels == "test"].min()


def test_random_by_sequence_keeps_users_whole_and_is_seeded(tiny_events):
    frame = interactions.sort_chronologically(tiny_events)
    a = sequences.random_by_sequence_split(frame, 0.2, 0.2, np.random.default_rng(3))
    b = sequences.random_by_sequence_split(frame, 0.2, 0.2, np.random.default_rng(3))
    assert a.tolist() == b.tolist()
    assert (frame.assign(split=a).groupby("user")["split"].nunique() == 1).all()
    assert (a == "test").any() and (a == "val").any()


def test_unknown_split_rule_lists_the_choices(tiny_events):
    with pytest.raises(ValueError, match="global_time"):
        sequences.split(tiny_events, "by_vibes", 0.1, 0.1, np.random.default_rng(0))


def test_history_windows_right_padded_and_per_user():
    items = np.array([5, 6, 7, 8, 1, 2])
    users = np.array([0, 0, 0, 0, 1, 1])
    hist, lengths = sequences.history_windows(items, users, np.array([0, 3, 4, 5]), length=2, pad_id=9)
    assert hist.tolist() == [[9, 9], [6, 7], [9, 9], [1, 9]]
    assert lengths.tolist() == [0, 2, 0, 1]
    incl, incl_len = sequences.history_windows(items, users, np.array([0, 3, 5]), 2, 9, inclusive=True)
    assert incl.tolist() == [[5, 9], [7, 8], [1, 2]]
    assert incl_len.tolist() == [1, 2, 2]


def test_eval_events_take_history_from_all_earlier_events(tiny_events):
    frame = interactions.sort_chronologically(tiny_events)
    frame["behaviour"] = interactions.label_behaviour(frame, 4.0)
    enc = interactions.encode(frame)
    labels = sequences.leave_last_out_split(enc.frame)
    events = sequences.eval_events(enc.frame, labels, "test", history_len=3, pad_id=enc.pad_id)
    first = events.subset(events.users == 0)              # user 1: test item 40 after 10, 20, 30
    assert first.items.tolist() == [[0, 1, 2]] and first.target.tolist() == [3]
    assert first.behaviour.tolist() == ["click"]          # rating 2.5
    with pytest.raises(ValueError, match="no 'test' events with at least 99"):
        sequences.eval_events(enc.frame, labels, "test", 3, enc.pad_id, min_history=99)


def test_user_sequences_keep_frame_order_per_user():
    import pandas as pd

    from recrl_core.data.sequences import user_sequences

    frame = pd.DataFrame({"user_idx": [0, 0, 2, 2, 2], "item_idx": [5, 3, 1, 1, 4],
                          "behaviour": ["click", "purchase", "click", "click", "purchase"]})
    assert {u: s.tolist() for u, s in user_sequences(frame).items()} == {0: [5, 3], 2: [1, 1, 4]}
    assert user_sequences(frame, "behaviour")[0].tolist() == ["click", "purchase"]
