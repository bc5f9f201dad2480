"""Transitions, replay sampling and negatives on hand-sized sequences."""

import numpy as np
import pandas as pd
import pytest

from recrl_core.data import interactions, negatives, replay, transitions


def _two_users():
    frame = pd.DataFrame({"user": [7, 7, 7, 8], "item": [3, 1, 2, 3], "time": [1, 2, 3, 1],
                          "value": [5.0, 2.0, 4.0, 1.0], "event": "rating"})
    frame = interactions.sort_chronologically(frame)
    frame["behaviour"] = interactions.label_behaviour(frame, 4.0)
    return interactions.encode(frame)


def test_transitions_by_hand():
    enc = _two_users()                                   # items 1,2,3 -> idx 0,1,2; pad 3
    cfg = transitions.TransitionConfig(state_len=2)
    t = transitions.build_transitions(enc.frame, cfg, enc.pad_id)
    assert t.state.tolist() == [[3, 3], [2, 3], [2, 0], [3, 3]]
    assert t.len_state.tolist() == [1, 1, 2, 1]          # empty history -> one padding step
    assert t.action.tolist() == [2, 0, 1, 2]
    assert t.next_state.tolist() == [[2, 3], [2, 0], [0, 1], [2, 3]]
    assert t.len_next_state.tolist() == [1, 2, 2, 1]
    assert t.done.tolist() == [0.0, 0.0, 1.0, 1.0]
    np.testing.assert_allclose(t.reward, [1.0, 0.2, 1.0, 0.2])
    assert t.is_purchase.tolist() == [True, False, True, False]


def test_transition_config_is_the_same_in_every_mode():
    from recrl_core.config import Mode

    assert {transitions.TransitionConfig.for_mode(m) for m in Mode} == {transitions.TransitionConfig()}


def test_replay_sampling_is_seeded_and_in_range():
    t = transitions.build_transitions(_two_users().frame, transitions.TransitionConfig(state_len=2), 3)
    buf = replay.ReplayBuffer(t)
    a = buf.sample(16, np.random.default_rng(5))
    b = buf.sample(16, np.random.default_rng(5))
    assert a.action.tolist() == b.action.tolist() and len(a) == 16
    covered = np.concatenate([batch.action for batch in buf.epoch(3, np.random.default_rng(0))])
    assert sorted(covered.tolist()) == sorted(t.action.tolist())
    assert set(buf.sample(1, np.random.default_rng(1)).to_torch()) >= {"state", "reward", "done"}


def test_replay_refuses_empty():
    t = transitions.build_transitions(_two_users().frame, transitions.TransitionConfig(), 3)
    with pytest.raises(ValueError, match="no transitions"):
        replay.ReplayBuffer(t.take(np.array([], dtype=int)))


def test_negatives_never_hit_the_positive(rng):
    pos = np.arange(200) % 5
    neg = negatives.sample_negatives(pos, num_items=5, k=8, rng=rng)
    assert neg.shape == (200, 8)
    assert not (neg == pos[:, None]).any()
    assert neg.min() >= 0 and neg.max() < 5


def test_negatives_follow_given_probabilities(rng):
    probs = np.array([0.0, 0.0, 1.0, 0.0])
    neg = negatives.sample_negatives(np.zeros(10, dtype=int), 4, 3, rng, probs=probs)
    assert (neg == 2).all()
    with pytest.raises(ValueError, match="at least 2 items"):
        negatives.sample_negatives(np.zeros(3, dtype=int), 1, 4, rng)
