"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_metrics": [
        ("NDCG@10 counts a hit at rank 11 (rank < k + 2)", '''def hit_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float((ranks <= k).mean())


def ndcg_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float(np.where(ranks < k + 2, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
'''),
        ("the 0-based gain 1/log2(rank + 2) applied to 1-based ranks", '''def hit_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float((ranks <= k).mean())


def ndcg_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float(np.where(ranks <= k, 1.0 / np.log2(ranks + 2.0), 0.0).mean())
'''),
        ("HR@k with rank < k", '''def hit_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float((ranks < k).mean())


def ndcg_at_k(ranks, k):
    ranks = np.asarray(ranks, dtype=float)
    return float(np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
'''),
    ],
    "q2_full_ranks": [
        ("seen items not masked", '''def full_ranks(scores, target, seen):
    t = scores.gather(1, target[:, None])
    return 1 + (scores > t).sum(dim=1)
'''),
        ("ties counted as better (pessimistic over all ties)", '''def full_ranks(scores, target, seen):
    scores = scores.masked_fill(seen, float("-inf"))
    t = scores.gather(1, target[:, None])
    return (scores >= t).sum(dim=1)
'''),
    ],
    "q3_global_time_split": [
        ("per-user split: each user's last events are test", '''def global_time_split(frame, val_frac, test_frac):
    pos = frame.groupby("user").cumcount(ascending=False)
    size = frame.groupby("user")["user"].transform("size")
    share = pos / size
    return pd.Series(np.where(share < test_frac, "test", np.where(share < test_frac + val_frac, "val", "train")),
                     index=frame.index)
'''),
        ("split by row position, not by time", '''def global_time_split(frame, val_frac, test_frac):
    n = len(frame)
    cut_val, cut_test = int(n * (1 - test_frac - val_frac)), int(n * (1 - test_frac))
    labels = ["train"] * cut_val + ["val"] * (cut_test - cut_val) + ["test"] * (n - cut_test)
    return pd.Series(labels, index=frame.index)
'''),
        ("strict > at the cuts (ties in time go to the earlier split)", '''def global_time_split(frame, val_frac, test_frac):
    times = frame["time"].to_numpy()
    t_val, t_test = np.quantile(times, [1.0 - test_frac - val_frac, 1.0 - test_frac])
    return pd.Series(np.where(times > t_test, "test", np.where(times > t_val, "val", "train")), index=frame.index)
'''),
    ],
}
