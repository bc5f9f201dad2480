#!/usr/bin/env python
"""Benchmark: LAAC (Ch. 10) — suggestion throughput, and the cost of a LAAC update against CE and SQN.

Two measurements, each in a fresh subprocess so that its peak RSS is its own:

1. ``suggestions``: users given suggestions per second by SmolLM2 on the chapter's data
   (book sizes, pool of 30 titles, no cache) — batched, several users' prompts and their
   pools per forward pass (``suggestions.score_pools``), against the baseline of one user
   per call — and free generation (``suggestions.generate_suggestions``) on the same users.
   ``speedup`` is batched over one-at-a-time; ``generation_vs_scoring`` is how many times
   slower generation is per user. Batched and one-at-a-time give the same suggestions (checked).
2. ``updates``: updates per second on the chapter's balanced logs (book sizes, GRU4Rec, batch
   256, one torch thread): Ch. 4's CE step (the baseline), an SQN step, and a LAAC step (critic,
   target, actor: ``adversarial.LAACLearner.step``, counting actor steps at the 2 : 1 ratio).
   ``X_vs_ce`` is CE's rate over X's: above 1, X is slower. One untimed warm-up first.

Prints JSON and writes ``bench/out/laac.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_laac.py [--users 16] [--updates 200]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _task():
    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.methods.laac import laac_task

    cfg = laac_task.LAACTaskConfig.for_mode(Mode.BOOK)
    return laac_task.load_task(Mode.BOOK, config.data_dir(), cfg), cfg


def suggestions_part(args) -> dict:
    import numpy as np

    from recrl_core.llm import models
    from recrl_core.methods.laac import laac_task, suggestions

    task, cfg = _task()
    prep = task.prep
    seen = laac_task.seen_items(prep.train, prep.num_users)
    seqs, liked = laac_task.liked_sequences(prep.train)
    titles = suggestions.liked_titles(task.titles, seqs, liked, prep.num_users, cfg.history_shown)
    pools = suggestions.candidate_pools(seen, prep.item_users(), cfg.pool_size, cfg.popular_share, cfg.seed)
    users = list(range(args.users))
    lm, tok = models.load_lm(args.model)
    out = {"users": len(users), "pool": cfg.pool_size, "k": cfg.suggestions}

    def timed(fn):
        with tempfile.TemporaryDirectory() as fresh:
            t = time.perf_counter()
            value = fn(Path(fresh))
            return value, time.perf_counter() - t

    single, s1 = timed(lambda root: [suggestions.score_pools(lm, tok, "bench", task.titles, [titles[u]], [pools[u]],
                                                             cfg.suggestions, cfg.history_shown, root) for u in users])
    batched, s2 = timed(lambda root: suggestions.score_pools(lm, tok, "bench", task.titles, [titles[u] for u in users],
                                                             [pools[u] for u in users], cfg.suggestions,
                                                             cfg.history_shown, root))
    assert np.array_equal(np.concatenate([s.items for s in single]), batched.items)
    gen, s3 = timed(lambda root: suggestions.generate_suggestions(lm, tok, "bench", task.titles,
                                                                  [titles[u] for u in users], [seen[u] for u in users],
                                                                  cfg.suggestions, cfg.history_shown, cache_root=root))
    out["one_user_per_call"] = {"seconds": round(s1, 2), "users_per_s": round(len(users) / s1, 2)}
    out["batched"] = {"seconds": round(s2, 2), "users_per_s": round(len(users) / s2, 2)}
    out["generation"] = {"seconds": round(s3, 2), "users_per_s": round(len(users) / s3, 2),
                         "lines": gen[0].stats["lines"], "exact": gen[0].stats["exact"],
                         "nearest": gen[0].stats["nearest"], "missed": gen[0].stats["missed"]}
    out["speedup"] = round(s1 / s2, 2)
    out["generation_vs_scoring"] = round(s3 / s2, 1)
    return out


def updates_part(args) -> dict:
    import numpy as np
    import torch

    from recrl_core.config import Mode
    from recrl_core.data.replay import ReplayBuffer
    from recrl_core.methods.laac import adversarial, experiments, laac_task
    from recrl_core.rl.double_q import make_pair
    from recrl_core.seqrec import heads
    from recrl_core.train import loops

    torch.set_num_threads(1)
    task, cfg = _task()
    logs = laac_task.training_logs(task, cfg)
    seen = laac_task.seen_items(task.prep.train, task.prep.num_users)
    from recrl_core.methods.laac import suggestions

    pools = suggestions.candidate_pools(seen, task.prep.item_users(), cfg.pool_size, cfg.popular_share, cfg.seed)
    refs = {"llm": laac_task.pick_from_pools(pools, None, cfg.suggestions, cfg.seed)}   # same shapes as the LLM's
    shared = experiments.build_shared(task, logs, refs, Mode.BOOK)
    buffer = ReplayBuffer(shared.transitions["balanced"])
    rng = np.random.default_rng(0)
    batches = [buffer.sample(256, rng).to_torch() for _ in range(args.updates)]
    n = task.num_items
    net = heads.make_net(shared.encoder, n, 0)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    pair = make_pair(shared.encoder, n, 0, shared.sqn.lr)
    learner = adversarial.LAACLearner(heads.make_net(shared.encoder, n, 1), heads.make_net(shared.encoder, n, 0),
                                      adversarial.Reference(refs["llm"], suggestions.reference_weights(refs["llm"])),
                                      shared.laac)
    runs = {"ce": lambda step, b: loops.supervised_step(net, opt, b),
            "sqn": lambda step, b: loops.rl_step(pair, b, "sqn", shared.sqn, step, rng),
            "laac": learner.step}
    out = {"items": n, "transitions": len(buffer), "batch": 256, "updates": args.updates,
           "critic_per_actor_steps": shared.laac.actor_every}
    for fn in runs.values():                                                           # warm-up
        for step, b in enumerate(batches[:10]):
            fn(step, b)
    for name, fn in runs.items():
        t = time.perf_counter()
        for step, b in enumerate(batches):
            fn(step, b)
        seconds = time.perf_counter() - t
        out[name] = {"seconds": round(seconds, 2), "updates_per_s": round(args.updates / seconds, 1)}
    for name in ("sqn", "laac"):
        out[f"{name}_vs_ce"] = round(out["ce"]["updates_per_s"] / out[name]["updates_per_s"], 2)
    return out


PARTS = {"suggestions": suggestions_part, "updates": updates_part}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--one", choices=list(PARTS))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--out", type=Path, default=Path("bench/out/laac.json"))
    args = parser.parse_args()
    from recrl_core import results

    if args.one:
        results.measure_part(lambda: PARTS[args.one](args))
        return

    results.write_report({"benchmark": "LAAC: suggestion throughput and the update's cost (Ch. 10)",
                          "model": args.model,
                          **{part: results.run_part(__file__, "--one", part, "--model", args.model,
                                                    "--users", str(args.users), "--updates", str(args.updates))
                             for part in args.parts.split(",")}}, args.out)


if __name__ == "__main__":
    main()
