"""Baselines against hand-computed scores and an independent dense least-squares solve."""

import numpy as np
import pandas as pd
import torch

from recrl_core.baselines import interactions_matrix, itemknn, mf, popularity


def _train():
    # users 0..2, items 0..3;  u0: {0,1}, u1: {0,1,2}, u2: {1,3}; u1 rated item 1 twice
    return pd.DataFrame({"user_idx": [0, 0, 1, 1, 1, 1, 2, 2], "item_idx": [0, 1, 0, 1, 2, 1, 1, 3]})


def test_most_popular_counts_distinct_users():
    model = popularity.MostPopular(4).fit(_train())
    assert model.counts.tolist() == [2.0, 3.0, 1.0, 1.0]
    scores = model.score(torch.tensor([0, 2]), torch.zeros(2, 1, dtype=torch.long), torch.ones(2, dtype=torch.long))
    assert scores.shape == (2, 4)


def test_item_knn_cosine_by_hand():
    cfg = itemknn.ItemKNNConfig(neighbours=3, shrink=0.0)
    model = itemknn.ItemKNN(3, 4, cfg).fit(_train())
    # co-raters: (0,1)=2, (0,2)=1, (1,2)=1, (1,3)=1; |U_0|=2, |U_1|=3, |U_2|=1, |U_3|=1
    history = torch.tensor([[0, 4]])                          # history = item 0 (4 = padding)
    scores = model.score(torch.tensor([0]), history, torch.tensor([1]))[0]
    expected = [0.0, 2 / np.sqrt(2 * 3), 1 / np.sqrt(2 * 1), 0.0]
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-6)


def test_item_knn_keeps_only_top_neighbours():
    model = itemknn.ItemKNN(3, 4, itemknn.ItemKNNConfig(neighbours=1, shrink=0.0)).fit(_train())
    scores = model.score(torch.tensor([0]), torch.tensor([[0]]), torch.tensor([1]))[0]
    assert (scores > 0).sum() == 1 and scores[1] > 0         # item 1 (0.816) beats item 2 (0.707)


def test_history_multi_hot_ignores_padding_and_length():
    hot = interactions_matrix.history_multi_hot(torch.tensor([[2, 0, 1], [4, 4, 4]]), torch.tensor([2, 0]), 4)
    assert hot.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0]]


def test_als_row_solve_matches_dense_weighted_least_squares():
    gen = torch.Generator().manual_seed(0)
    factors = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    observed = [1, 4]
    alpha, reg = 5.0, 0.3
    x = mf.solve_rows(factors, factors.T @ factors, torch.tensor([[1, 4, 0]]),
                      torch.tensor([[True, True, False]]), alpha, reg)[0]
    p = np.zeros(6); p[observed] = 1.0                        # dense Hu et al. normal equations
    c = 1.0 + alpha * p
    Y = factors.numpy()
    expected = np.linalg.solve(Y.T @ (c[:, None] * Y) + reg * np.eye(3), Y.T @ (c * p))
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-8)


def test_als_objective_never_increases():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_idx": rng.integers(0, 20, 150), "item_idx": rng.integers(0, 30, 150)})
    model = mf.ImplicitALS(20, 30, mf.ALSConfig(factors=4, iterations=6)).fit(frame)
    assert all(b <= a + 1e-3 for a, b in zip(model.history, model.history[1:]))
    assert model.history[-1] < model.history[0]


def test_als_fold_in_ranks_co_consumed_items_first():
    # two disjoint tastes: users 0-9 take items 0-4, users 10-19 take items 5-9
    users = np.repeat(np.arange(20), 5)
    items = np.concatenate([np.arange(5) if u < 10 else np.arange(5, 10) for u in range(20)])
    frame = pd.DataFrame({"user_idx": users, "item_idx": items})
    model = mf.ImplicitALS(20, 10, mf.ALSConfig(factors=4, iterations=10)).fit(frame)
    scores = model.score(torch.tensor([0]), torch.tensor([[6, 7, 10]]), torch.tensor([2]))[0]
    assert set(scores.topk(5).indices.tolist()) == {5, 6, 7, 8, 9}


def test_als_is_deterministic_for_a_seed():
    frame = _train()
    a = mf.ImplicitALS(3, 4, mf.ALSConfig(factors=2, iterations=3, seed=1)).fit(frame)
    b = mf.ImplicitALS(3, 4, mf.ALSConfig(factors=2, iterations=3, seed=1)).fit(frame)
    assert torch.equal(a.item_factors, b.item_factors)
