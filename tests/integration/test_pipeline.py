"""End to end on synthetic data with known tastes: split -> fit -> full-ranking evaluation."""

import numpy as np
import torch

from recrl_core.baselines import itemknn, mf, popularity
from recrl_core.data import interactions, sequences, synthetic
from recrl_core.eval import offline


def _prepared(seed: int):
    data = synthetic.make_synthetic(num_users=80, num_items=60, events_per_user=(10, 20),
                                    rng=np.random.default_rng(seed))
    frame = interactions.sort_chronologically(data.interactions)
    frame["behaviour"] = interactions.label_behaviour(frame, 4.0)
    enc = interactions.encode(frame, catalogue=np.arange(60))
    labels = sequences.global_time_split(enc.frame, 0.1, 0.2)
    test = sequences.eval_events(enc.frame, labels, "test", history_len=20, pad_id=enc.pad_id)
    return data, enc, labels, test


class Oracle:
    """Scores with the generator's true choice logits (taste + popularity): an upper reference."""

    def __init__(self, affinity, users):
        self.affinity, self.users = torch.as_tensor(affinity, dtype=torch.float32), users

    def score(self, users, items, lengths):
        return self.affinity[torch.as_tensor(self.users[users.numpy()])]


def test_known_tastes_are_recovered_by_the_evaluation():
    data, enc, labels, test = _prepared(0)
    train = enc.frame[labels.to_numpy() == "train"]
    results = {
        "oracle": offline.evaluate(Oracle(data.choice_logits, enc.users), test, ks=(10,), mask_history=True),
        "popularity": offline.evaluate(popularity.MostPopular(60).fit(train), test, ks=(10,), mask_history=True),
    }
    for res in results.values():
        assert all(0.0 <= v <= 1.0 for v in res.values())
    assert results["oracle"]["ndcg@10/all"] > results["popularity"]["ndcg@10/all"]


def test_same_seed_same_metrics():
    def run(seed):
        _, enc, labels, test = _prepared(seed)
        train = enc.frame[labels.to_numpy() == "train"]
        out = {}
        for name, model in (("knn", itemknn.ItemKNN(enc.num_users, 60, itemknn.ItemKNNConfig(neighbours=20))),
                            ("als", mf.ImplicitALS(enc.num_users, 60, mf.ALSConfig(factors=8, iterations=4)))):
            out |= {f"{name}/{k}": v for k, v in offline.evaluate(model.fit(train), test, ks=(5, 10)).items()}
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)
