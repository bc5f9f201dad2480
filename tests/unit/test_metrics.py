"""Metrics against hand arithmetic, and ranking against an independent brute force."""

import numpy as np
import pytest
import torch

from recrl_core.eval import metrics, offline, ranking

RANKS = np.array([1, 3, np.inf, 2])


def test_hit_and_ndcg_by_hand():
    assert metrics.hit_at_k(RANKS, 2) == pytest.approx(0.5)
    assert metrics.hit_at_k(RANKS, 3) == pytest.approx(0.75)
    expected = (1 + 1 / np.log2(4) + 0 + 1 / np.log2(3)) / 4
    assert metrics.ndcg_at_k(RANKS, 3) == pytest.approx(expected)
    assert metrics.ndcg_at_k(RANKS, 1) == pytest.approx(0.25)


def test_ndcg_single_hit_at_rank_2_from_a_list():
    ranks = metrics.ranks_from_lists(np.array([[7, 3, 9]]), np.array([3]))
    assert metrics.ndcg_at_k(ranks, k=3) == pytest.approx(1 / np.log2(3))
    assert metrics.ranks_from_lists(np.array([[7, 3]]), np.array([4])).tolist() == [np.inf]


def test_mrr_and_cumulative_reward_by_hand():
    assert metrics.mrr(RANKS) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert metrics.mrr(RANKS, k=2) == pytest.approx((1 + 0 + 0 + 1 / 2) / 4)
    assert metrics.cumulative_reward_at_k(RANKS, [1.0, 0.2, 1.0, 0.2], k=3) == pytest.approx(1.4)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="empty"):
        metrics.hit_at_k([], 10)
    with pytest.raises(ValueError, match="1-based"):
        metrics.ndcg_at_k([0, 1], 10)


def test_beyond_accuracy_by_hand():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    # pairwise cosines of items 0,1,2: 0, 1/sqrt2, 1/sqrt2 -> mean sqrt2/3
    assert metrics.ild_at_k(np.array([[0, 1, 2]]), vectors) == pytest.approx(1 - np.sqrt(2) / 3)
    assert metrics.ild_at_k(np.array([[0, 3]]), vectors) == pytest.approx(1.0)   # zero vector: cos 0
    assert metrics.novelty_at_k(np.array([[0, 1]]), [4, 2, 1], num_users=4) == pytest.approx(0.5)
    assert metrics.coverage_at_k(np.array([[0, 1], [1, 2]]), num_items=10) == pytest.approx(0.3)
    history = np.array([[6, 7, 9]])
    assert metrics.repetitions_at_k(np.array([[5, 6]]), history, [2]) == pytest.approx(1.0)
    assert metrics.repetitions_at_k(np.array([[5, 9]]), history, [2]) == pytest.approx(0.0)  # 9 is padding


def _brute_force_rank(scores_row, target):
    order = sorted(range(len(scores_row)), key=lambda i: (-scores_row[i], i))
    return order.index(target) + 1


def test_full_ranks_and_top_k_match_brute_force_with_ties():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (40, 30), generator=gen).float()      # many ties on purpose
    target = torch.randint(0, 30, (40,), generator=gen)
    ranks = ranking.full_ranks(scores, target)
    expected = [_brute_force_rank(scores[b].tolist(), int(target[b])) for b in range(40)]
    assert ranks.tolist() == expected
    top = ranking.top_k(scores, 5)
    for b in range(40):
        assert top[b].tolist() == sorted(range(30), key=lambda i: (-scores[b, i].item(), i))[:5]


def test_sampled_ranks_count_only_the_sampled_items():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.5]])
    ranks = ranking.sampled_ranks(scores, torch.tensor([2]), torch.tensor([[0, 4, 1]]))
    assert ranks.tolist() == [2]        # only item 1 scores higher; item 4 ties but has a larger index


def test_mask_history_hides_seen_items_but_not_padding():
    scores = torch.zeros(1, 4)
    masked = ranking.mask_history(scores, torch.tensor([[1, 3, 4]]), torch.tensor([2]))
    assert torch.isinf(masked).tolist() == [[False, True, False, True]]


class _Fixed:
    """A scorer with hand-set scores: item index order is the ranking."""

    def score(self, users, items, lengths):
        return torch.tensor([[4.0, 3.0, 2.0, 1.0]]).expand(len(users), -1)


def test_evaluate_splits_by_behaviour():
    from recrl_core.data.sequences import EvalEvents

    events = EvalEvents(users=np.array([0, 1]), items=np.array([[4], [0]]), lengths=np.array([0, 1]),
                        target=np.array([0, 2]), behaviour=np.array(["purchase", "click"]),
                        time=np.array([0, 0]))
    res = offline.evaluate(_Fixed(), events, ks=(1, 3))
    assert res["hr@1/purchase"] == 1.0 and res["hr@1/click"] == 0.0
    assert res["ndcg@3/click"] == pytest.approx(1 / np.log2(4))
    masked = offline.evaluate(_Fixed(), events, ks=(1, 3), mask_history=True)
    assert masked["ndcg@3/click"] == pytest.approx(1 / np.log2(3))        # item 0 seen -> rank 2


def test_sampled_ranks_respect_mask_history():
    from recrl_core.data.sequences import EvalEvents

    events = EvalEvents(users=np.array([0]), items=np.array([[0]]), lengths=np.array([1]),
                        target=np.array([2]), behaviour=np.array(["click"]), time=np.array([0]))
    probs = np.array([1.0, 0.0, 0.0, 0.0])                    # always sample item 0, which scores highest
    plain = offline.sampled_rank_events(_Fixed(), events, 3, np.random.default_rng(0), probs=probs)
    masked = offline.sampled_rank_events(_Fixed(), events, 3, np.random.default_rng(0), probs=probs,
                                         mask_history=True)
    assert plain.tolist() == [4.0] and masked.tolist() == [1.0]
