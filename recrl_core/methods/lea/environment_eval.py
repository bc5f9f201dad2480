"""The LLM environment judged on its own: reward-model pairs and state-model ranking on held-out events.

Popularity (training counts) is scored beside the LE on the same pairs and events.
With uniform negatives popularity is a strong baseline, because real choices are
mostly popular items; with negatives drawn in proportion to popularity it is at
chance by construction, and what is left is what a scorer knows about the user.

Spec: spec-lea-equations (book/appendix/lea.md).
Taught in: sec-llm-environment
"""

from __future__ import annotations

import numpy as np
import torch

from recrl_core.eval import metrics, ranking
from recrl_core.eval.metrics import auc
from recrl_core.llm.token_tree import tree_batch
from recrl_core.methods.lea.environment import LEConfig, LEnvironment, sample_unseen


def sample_popular(item_counts: np.ndarray, seen: set[int], rng: np.random.Generator) -> int:
    """One item drawn with probability proportional to ``item_counts``, never one of ``seen``."""
    p = item_counts.astype(float)
    p[list(seen)] = 0.0
    if p.sum() <= 0:
        raise ValueError("no unseen item with a positive count to sample")
    return int(rng.choice(len(p), p=p / p.sum()))


@torch.no_grad()
def evaluate_environment(env: LEnvironment, events, item_counts: np.ndarray, cfg: LEConfig, *, negatives: str = "uniform",
             batch_size: int = 16) -> dict[str, float]:
    """The LE on held-out events: reward-model pairs and state-model ranking, with popularity beside.

    For ``cfg.eval_events`` sampled events (seeded): the history's last ``context`` items,
    the target ``a+`` and one unseen ``a-``, drawn uniformly (``negatives="uniform"``) or in
    proportion to the training counts (``"popularity"``: popularity itself is then at chance).
    Reported: pairwise accuracy P(r(a+) > r(a-)) and pooled AUC of r^LE and of popularity
    (training counts; ties ½), and HR/NDCG@10 of ranking all items by ⟨s^LE, u(a)⟩ beside
    popularity's top-10.
    """
    if negatives not in ("uniform", "popularity"):
        raise ValueError(f"negatives must be 'uniform' or 'popularity', got {negatives!r}")
    rng = np.random.default_rng(cfg.seed + 1)
    rows = rng.choice(len(events), size=min(cfg.eval_events, len(events)), replace=False)
    n, P = env.item_tokens.num_items, len(env.prefix)
    r_pos, r_neg, ranks, negs = [], [], [], []
    u = env.item_vectors()                                                        # (N, D)
    for start in range(0, len(rows), batch_size):
        idx = rows[start:start + batch_size]
        hist = [events.items[i, :events.lengths[i]][-cfg.context:] for i in idx]
        seen = [set(h.tolist()) | {int(events.target[i])} for h, i in zip(hist, idx)]
        neg = [sample_unseen(n, s, 1, rng)[0] if negatives == "uniform" else sample_popular(item_counts, s, rng)
               for s in seen]
        pair = [np.array([[events.target[i], m]]) for i, m in zip(idx, neg)]    # (1, 2): both at the end
        tree = tree_batch(env.prefix, [env.item_tokens.ids(h) for h in hist],
                          [env.item_tokens.ids(p.reshape(-1)) for p in pair],
                          [torch.full((2,), P - 1 + len(h)) for h in hist])
        h = env.hidden(tree)
        Lm, b = tree["main_width"], torch.arange(len(idx))
        r = env.rewards(h[:, Lm:Lm + 2]).float().cpu()                            # (B, 2)
        r_pos.append(r[:, 0]), r_neg.append(r[:, 1]), negs.extend(neg)
        last = torch.as_tensor([P - 1 + len(x) for x in hist])
        scores = (env.states(h[b, last]) @ u.T).float().cpu()                 # (B, N)
        ranks.append(ranking.full_ranks(scores, torch.as_tensor(events.target[idx])))
    r_pos, r_neg = torch.cat(r_pos).numpy(), torch.cat(r_neg).numpy()
    pop_pos, pop_neg = item_counts[events.target[rows]].astype(float), item_counts[np.array(negs)].astype(float)
    ranks = torch.cat(ranks).numpy()
    pop_ranks = ranking.full_ranks(torch.as_tensor(item_counts, dtype=torch.float32).expand(len(rows), -1),
                                   torch.as_tensor(events.target[rows])).numpy()
    labels = np.r_[np.ones(len(rows)), np.zeros(len(rows))]
    return {"events": len(rows),
            "rm_accuracy": float(np.mean((r_pos > r_neg) + 0.5 * (r_pos == r_neg))),
            "rm_auc": auc(np.r_[r_pos, r_neg], labels),
            "pop_accuracy": float(np.mean((pop_pos > pop_neg) + 0.5 * (pop_pos == pop_neg))),
            "pop_auc": auc(np.r_[pop_pos, pop_neg], labels),
            "state_hr@10": metrics.hit_at_k(ranks, 10), "state_ndcg@10": metrics.ndcg_at_k(ranks, 10),
            "pop_hr@10": metrics.hit_at_k(pop_ranks, 10), "pop_ndcg@10": metrics.ndcg_at_k(pop_ranks, 10)}
