#!/usr/bin/env python
"""Benchmark: LEA (Ch. 8) — the LE pass, LEA's training overhead, serving latency.

Four measurements, each in a fresh subprocess so that its peak RSS is its own:

1. ``offline_pass``: LE states + logged rewards + candidate rewards per second for the first
   ``--users`` training users of the Ch. 8 Last.fm slice, batched (8 chunks per forward,
   the library's setting) against the baseline of one chunk per forward. The LE is the
   untrained one (LoRA at zero, fresh heads): throughput does not depend on the weights.
2. ``le_training``: seconds per LE epoch on the first ``--users`` users' sequences, with
   adapters on every layer (the baseline) against the top 4 layers over a cached frozen trunk
   (book mode), and the one-off cost of caching the trunk.
3. ``training``: seconds per update of SQN on GRU4Rec, plain (Ch. 4) against the LEA
   variant (fused state with its student, LE reward, K = 2 augmented actions), on
   synthetic LE arrays of the real shapes (the update's cost does not depend on their values).
4. ``serving``: per-request latency (batch of 1, median) of the plain backbone, the fused
   backbone with its distilled LE branch, and one forward of the LLM state model.

Prints JSON and writes ``bench/out/lea.json``.
Usage: ``RECRL_DATA_DIR=... python bench/bench_lea.py [--users 20] [--model smollm2-135m]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path


def _data():
    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.data import prepare
    from recrl_core.methods.lea import lea_task

    return prepare.prepare(lea_task.data_config(Mode.BOOK, "lastfm"), config.data_dir())


def _environment(model_name: str, data):
    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.llm import models
    from recrl_core.methods.lea import environment as le
    from recrl_core.methods.lea import item_tokens as itok
    from recrl_core.methods.lea import lea_task

    lm, tok = models.load_lm(model_name)
    names, details = lea_task.item_descriptions(data, config.data_dir())
    tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(names, details), itok.ItemTokenConfig())
    itok.freeze_lm(lm)
    return lea_task.new_environment(lm, tok, tokens, le.LEConfig.for_mode(Mode.BOOK)).eval()


def offline_pass(args) -> dict:
    from recrl_core.config import Mode
    from recrl_core.methods.lea import offline_pass as lp

    data = _data()
    env = _environment(args.model, data)
    frame = data.train[data.train["user_idx"].isin(sorted(data.train["user_idx"].unique())[:args.users])]
    users, items = frame["user_idx"].to_numpy(), frame["item_idx"].to_numpy()
    cfg = lp.PassConfig.for_mode(Mode.BOOK)
    out = {"transitions": len(items), "candidates": cfg.candidates}
    for name, batch in (("unbatched", 1), ("batched", cfg.batch_size)):
        t = time.perf_counter()
        res = lp.run_pass(env, users, items, dataclasses.replace(cfg, batch_size=batch), context=20)
        seconds = time.perf_counter() - t
        out[name] = {"chunks_per_forward": batch, "seconds": round(seconds, 2),
                     "states_per_s": round(len(items) / seconds, 1), "lm_tokens": res.lm_tokens}
    out["speedup"] = round(out["batched"]["states_per_s"] / out["unbatched"]["states_per_s"], 2)
    return out


def le_training(args) -> dict:
    """Seconds per LE epoch with adapters on the top 4 layers over a cached trunk, against every layer."""
    import numpy as np
    import torch

    from recrl_core import config
    from recrl_core.config import Mode
    from recrl_core.llm import models
    from recrl_core.methods.lea import environment as le
    from recrl_core.methods.lea import item_tokens as itok
    from recrl_core.methods.lea import lea_task

    data = _data()
    seqs = lea_task.user_sequences(data.train)
    subset = {u: seqs[u] for u in sorted(seqs)[:args.users]}
    names, details = lea_task.item_descriptions(data, config.data_dir())
    out = {"users": len(subset), "positions": int(sum(len(s) for s in subset.values()))}
    for name, layers in (("all_layers", None), ("top4_cached_trunk", 4)):
        cfg = dataclasses.replace(le.LEConfig.for_mode(Mode.BOOK), adapt_layers=layers, epochs=1)
        lm, tok = models.load_lm(args.model)
        itok.freeze_lm(lm)
        tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(names, details), itok.ItemTokenConfig())
        env = lea_task.new_environment(lm, tok, tokens, cfg)
        seen, rng = {u: set(s.tolist()) for u, s in subset.items()}, np.random.default_rng(0)
        t = time.perf_counter()
        batches = le.make_batches(env.eval(), le.chunks_of(subset, cfg.context), seen, cfg, rng)
        trunk_s = time.perf_counter() - t
        opt = torch.optim.Adam([p for p in env.parameters() if p.requires_grad], lr=1e-4)
        env.train()
        t = time.perf_counter()
        for batch in batches:
            loss = le.le_loss(env, batch, seen, cfg, rng)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch_s = time.perf_counter() - t
        out[name] = {"trunk_seconds": round(trunk_s, 2), "epoch_seconds": round(epoch_s, 2),
                     "steps": len(batches), "ms_per_step": round(1000 * epoch_s / len(batches), 1)}
    out["epoch_speedup"] = round(out["all_layers"]["epoch_seconds"] / out["top4_cached_trunk"]["epoch_seconds"], 2)
    return out


def _le_arrays(trans, n: int, dim: int = 64):
    import numpy as np

    rng = np.random.default_rng(0)
    aug = (trans.action[:, None] + rng.integers(1, n, size=(len(trans), 2))) % n    # never the logged item
    return (rng.normal(size=(len(trans), dim)).astype(np.float32), rng.normal(size=len(trans)).astype(np.float32),
            aug.astype(np.int64), rng.normal(size=(len(trans), 2)).astype(np.float32),
            rng.normal(size=(n, dim)).astype(np.float32))


def training(args) -> dict:
    import numpy as np

    from recrl_core.config import Mode
    from recrl_core.data import replay, transitions
    from recrl_core.methods.lea import learner
    from recrl_core.rl import sqn
    from recrl_core.seqrec import heads
    from recrl_core.train import loops

    data = _data()
    trans = transitions.build_transitions(data.train, transitions.TransitionConfig(), data.encoded.pad_id)
    state, reward, aug, aug_r, vectors = _le_arrays(trans, data.num_items)
    enc, cfg = heads.EncoderConfig.for_mode(Mode.BOOK), sqn.SQNConfig.for_mode(Mode.BOOK)
    out = {}
    for name in ("base", "lea"):
        lea_cfg = learner.variant(name)
        buffer = replay.ReplayBuffer(learner.attach_le_pass(trans, state, reward, aug, aug_r, lea_cfg))
        pair = learner.build_pair(enc, data.num_items, vectors, vectors.shape[1], lea_cfg, cfg.lr, None, 0)
        extra, rng = learner.lea_extra_loss(lea_cfg, cfg.gamma), np.random.default_rng(0)
        batches = [buffer.sample(cfg.batch_size, rng).to_torch() for _ in range(args.steps)]
        t = time.perf_counter()
        for step, batch in enumerate(batches):
            loops.rl_step(pair, batch, "sqn", cfg, step, rng, extra_loss=extra)
        out[name] = {"ms_per_update": round(1000 * (time.perf_counter() - t) / args.steps, 2)}
    out["overhead"] = round(out["lea"]["ms_per_update"] / out["base"]["ms_per_update"], 2)
    return out | {"updates": args.steps, "batch_size": cfg.batch_size, "backbone": enc.backbone}


def serving(args) -> dict:
    import numpy as np
    import torch

    from recrl_core import results
    from recrl_core.config import Mode
    from recrl_core.methods.lea import learner
    from recrl_core.seqrec import heads

    data = _data()
    env = _environment(args.model, data)
    enc = heads.EncoderConfig.for_mode(Mode.BOOK)
    vectors = np.random.default_rng(0).normal(size=(data.num_items, 64)).astype(np.float32)
    plain = heads.TwoHead(heads.build_encoder(enc, data.num_items), data.num_items, enc.state_len).eval()
    fused = learner.build_pair(enc, data.num_items, vectors, 64, learner.variant("state"), 0.01, None, 0).networks[0].eval()
    items, lengths = torch.as_tensor(data.test.items[:1]), torch.as_tensor(data.test.lengths[:1])
    user = torch.zeros(1, dtype=torch.long)
    history = data.test.items[0, :data.test.lengths[0]][-20:]
    ids = torch.cat([env.prefix, env.item_tokens.ids(history)])[None]
    llm = {"ids": ids, "mask": None, "position_ids": torch.arange(ids.shape[1])[None]}

    def median_ms(fn, repeats):
        return round(results.median_ms(fn, repeats), 3)

    with torch.no_grad():
        return {"backbone_ms": median_ms(lambda: plain.score(user, items, lengths), 200),
                "fused_with_student_ms": median_ms(lambda: fused.score(user, items, lengths), 200),
                "llm_state_model_ms": median_ms(lambda: env.hidden(llm), 10),
                "llm_tokens_per_request": int(ids.shape[1])}


PARTS = {"offline_pass": offline_pass, "le_training": le_training, "training": training, "serving": serving}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--one", choices=list(PARTS))
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--out", type=Path, default=Path("bench/out/lea.json"))
    args = parser.parse_args()
    from recrl_core import results

    if args.one:
        results.measure_part(lambda: PARTS[args.one](args))
        return

    results.write_report({"benchmark": "LEA: LE pass throughput, LEA training overhead, serving latency (Ch. 8)",
                          "model": args.model,
                          **{part: results.run_part(__file__, "--one", part, "--model", args.model,
                                                    "--users", str(args.users), "--steps", str(args.steps))
                             for part in args.parts.split(",")}}, args.out)


if __name__ == "__main__":
    main()
