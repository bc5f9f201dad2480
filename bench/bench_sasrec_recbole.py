#!/usr/bin/env python
"""Benchmark: the book's SASRec against RecBole 1.2.1's, same data, same split, same CPU, one run.

Not part of CI, and RecBole is never in the book's lock: it runs in its own virtual
environment, which this script drives as a subprocess::

    python3.11 -m venv /tmp/rbenv && /tmp/rbenv/bin/pip install torch==2.13.0 recbole==1.2.1 "setuptools<81"
    RECRL_DATA_DIR=../shared/data python bench/bench_sasrec_recbole.py --recbole-python /tmp/rbenv/bin/python

RecBole 1.2.1 predates NumPy 2: :func:`numpy2_aliases` restores the removed aliases
(``np.float``, ``np.bool8``, ...) inside the RecBole process only.

Data and protocol, identical for both sides:

* ml-latest-small, every rating an interaction; each user's ratings ordered by timestamp,
  ties in file order (RecBole gets that order as the timestamp, so it cannot differ);
* leave-last-out: the last item is the test target, the one before it the validation
  target, the rest trains; histories are the last 50 items before the target;
* full ranking over the whole catalogue, history *not* masked (RecBole does not mask it
  for sequential models), HR@10 and NDCG@10 over users; the checkpoint with the best
  validation NDCG@10 over ``--epochs`` epochs is tested once;
* SASRec at RecBole's defaults: 2 blocks, 2 heads, H = 64, FFN 256, GELU, post-LN,
  dropout 0.5, N(0, 0.02²) init, item embedding tied to the output, Adam 1e-3, batch 2048
  prefixes (RecBole) / windows sized to hold the same number of targets (ours).

"Ours" trains with :mod:`recrl_core.train.sequence_ce` (every position of 50-item windows)
unless the variant says ``prefix`` (one target per prefix, RecBole's augmentation). Each
variant is one row; ``--variants`` picks them. Every row keeps its per-user test ranks, so each
row's test NDCG@10 is compared with RecBole's *paired by user* (mean difference and 95 %
t-interval over the 610 users). Writes ``bench/out/sasrec_recbole_seed<seed>.json``; the
reported runs are committed under ``results/bench/`` (seed 0: all variants, written before the
per-user ranks were kept; seed 1: RecBole and the two leading variants, paired).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MAX_LEN, K = 50, 10

# name -> EncoderConfig changes against RecBole's architecture (EncoderConfig.recbole_sasrec), and training changes
VARIANTS = {
    "recbole-arch": {},
    "untied": dict(tie_output=False),
    "ffn 1x": dict(ffn_multiple=1),
    "pre-LN": dict(norm_first=True),
    "relu": dict(activation="relu"),
    "torch init": dict(init_std=None),
    "dropout 0.2": dict(dropout=0.2),
    "book defaults": dict(num_blocks=1, num_heads=1, ffn_multiple=1, activation="relu", norm_first=True,
                          init_std=None, dropout=0.1, tie_output=False),
    "recbole-arch, prefix": dict(objective="prefix"),
}


# ----------------------------------------------------------------------------- shared data

def sequences(data_dir: Path) -> tuple[list[np.ndarray], int]:
    """Per-user item sequences (oldest first, ties in file order) with items as 0..N-1; N."""
    import pandas as pd

    raw = pd.read_csv(Path(data_dir) / "ml-latest-small" / "ratings.csv")
    raw["row"] = np.arange(len(raw))
    raw = raw.sort_values(["userId", "timestamp", "row"], kind="stable")
    items = np.unique(raw["movieId"].to_numpy())
    raw["item"] = np.searchsorted(items, raw["movieId"].to_numpy())
    return [g.to_numpy() for _, g in raw.groupby("userId", sort=True)["item"]], len(items)


def metrics(ranks: np.ndarray) -> dict:
    """HR@10 and NDCG@10 of 0-based ranks (one target per user)."""
    hit = ranks < K
    return {"hr@10": float(hit.mean()), "ndcg@10": float((hit / np.log2(ranks + 2.0)).mean())}


# ----------------------------------------------------------------------------- RecBole side

def numpy2_aliases() -> None:
    for name, value in [("float", float), ("int", int), ("bool", bool), ("object", object), ("long", int),
                        ("unicode_", np.str_), ("float_", np.float64), ("complex_", np.complex128),
                        ("bool8", np.bool_), ("int0", np.intp), ("uint0", np.uintp)]:
        if not hasattr(np, name):
            setattr(np, name, value)


def run_recbole(data_dir: Path, epochs: int, seed: int) -> dict:
    numpy2_aliases()
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    torch.set_num_threads(2)
    seqs, _ = sequences(data_dir)
    work = Path(tempfile.mkdtemp(prefix="recbole-"))
    os.chdir(work)                                      # RecBole writes log/ and log_tensorboard/ into the cwd
    (work / "ml-small").mkdir()
    with open(work / "ml-small" / "ml-small.inter", "w") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u, seq in enumerate(seqs):
            f.writelines(f"u{u}\ti{i}\t{t}\n" for t, i in enumerate(seq))
    cfg = Config(model="SASRec", dataset="ml-small", config_dict={
        "data_path": str(work), "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": MAX_LEN, "train_neg_sample_args": None, "loss_type": "CE",
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "metrics": ["Hit", "NDCG"], "topk": [K], "valid_metric": "NDCG@10", "epochs": epochs,
        "train_batch_size": 2048, "learning_rate": 1e-3, "seed": seed, "reproducibility": True,
        "device": "cpu", "use_gpu": False, "show_progress": False, "checkpoint_dir": str(work / "saved"),
        "state": "WARNING"})
    init_seed(cfg["seed"], cfg["reproducibility"])
    dataset = create_dataset(cfg)
    train, valid, test = data_preparation(cfg, dataset)
    init_seed(cfg["seed"], cfg["reproducibility"])
    model = SASRec(cfg, train.dataset)
    trainer = Trainer(cfg, model)
    best, best_state, epoch_s, curve = -1.0, None, [], []
    for epoch in range(epochs):
        t = time.perf_counter()
        trainer._train_epoch(train, epoch, show_progress=False)
        epoch_s.append(time.perf_counter() - t)
        score, _ = trainer._valid_epoch(valid, show_progress=False)
        curve.append(float(score))
        if score > best:
            best, best_state = float(score), {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    result = trainer.evaluate(test, load_best_model=False, show_progress=False)
    ranks = recbole_test_ranks(model, test, dataset, len(seqs))
    mine = metrics(ranks)                               # RecBole's own numbers, recomputed from the ranks
    if abs(mine["ndcg@10"] - float(result["ndcg@10"])) > 1e-3 or abs(mine["hr@10"] - float(result["hit@10"])) > 1e-3:
        raise RuntimeError(f"per-user ranks do not reproduce RecBole's metrics: {mine} vs {dict(result)}")
    return {"val_ndcg@10": best, "best_epoch": int(np.argmax(curve)) + 1, "val_curve": curve,
            "test": {"hr@10": float(result["hit@10"]), "ndcg@10": float(result["ndcg@10"])},
            "seconds_per_epoch": float(np.median(epoch_s)), "train_targets": int(len(train.dataset)),
            "test_ranks": ranks.tolist()}


def recbole_test_ranks(model, test, dataset, num_users: int) -> np.ndarray:
    """(U,) 0-based rank of each user's test item in RecBole's full-sort scores, by our user index.

    As RecBole's evaluation: item 0 (its padding) scores -inf, and the history is masked only
    where RecBole's loader asks for it (never for sequential models).
    """
    import torch

    ranks = np.full(num_users, -1, dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for interaction, history_index, positive_u, positive_i in test:
            scores = model.full_sort_predict(interaction).view(-1, dataset.item_num)     # (B, items + 1)
            scores[:, 0] = -np.inf
            if history_index is not None:
                scores[history_index] = -np.inf
            target = scores[positive_u, positive_i]                                     # (P,)
            rank = (scores[positive_u] > target[:, None]).sum(1).numpy()
            tokens = dataset.id2token("user_id", interaction["user_id"][positive_u].numpy())
            ranks[[int(t[1:]) for t in tokens]] = rank                                  # "u17" -> 17
    if (ranks < 0).any():
        raise RuntimeError(f"RecBole's test loader left {(ranks < 0).sum()} users without a test item")
    return ranks


# ----------------------------------------------------------------------------- our side

def prefixes(seqs: list[np.ndarray], pad: int):
    """One row per target x_t (t >= 2) of every training sequence: the last MAX_LEN items before it."""
    items, lengths, targets = [], [], []
    for seq in seqs:
        for t in range(1, len(seq)):
            h = seq[max(0, t - MAX_LEN):t]
            items.append(np.r_[h, np.full(MAX_LEN - len(h), pad)])
            lengths.append(len(h))
            targets.append(seq[t])
    import torch
    return torch.as_tensor(np.array(items)), torch.as_tensor(lengths), torch.as_tensor(targets)


def histories(seqs: list[np.ndarray], cut: int, pad: int):
    """(U, MAX_LEN) the last MAX_LEN items before position len - cut, and the targets there."""
    import torch
    rows, lengths, targets = [], [], []
    for seq in seqs:
        h = seq[:len(seq) - cut][-MAX_LEN:]
        rows.append(np.r_[h, np.full(MAX_LEN - len(h), pad)])
        lengths.append(len(h))
        targets.append(seq[len(seq) - cut])
    return torch.as_tensor(np.array(rows)), torch.as_tensor(lengths), np.array(targets)


def ranks_of(model, items, lengths, targets) -> np.ndarray:
    import torch
    with torch.no_grad():
        scores = model.score(None, items, lengths)                                 # (U, N), unmasked
    target = scores[torch.arange(len(targets)), torch.as_tensor(targets)]
    return (scores > target[:, None]).sum(1).numpy()


def run_ours(data_dir: Path, epochs: int, seed: int, variant: str) -> dict:
    import dataclasses

    import torch
    import torch.nn.functional as F

    from recrl_core.seqrec import heads
    from recrl_core.train import sequence_ce

    torch.set_num_threads(2)
    seqs, n = sequences(data_dir)
    change = dict(VARIANTS[variant])
    objective = change.pop("objective", "every")
    cfg = dataclasses.replace(heads.EncoderConfig(hidden_size=64, state_len=MAX_LEN).recbole_sasrec(), **change)
    model = heads.make_net(cfg, n, seed)
    opt = torch.optim.Adam([p for name, p in model.named_parameters() if not name.startswith("q.")], lr=1e-3)
    train = [s[:-2] for s in seqs]
    val, test = histories(seqs, 2, n), histories(seqs, 1, n)
    rng = np.random.default_rng(seed)
    if objective == "every":
        windows = sequence_ce.windows(train, MAX_LEN, n)
        per_target = int(windows.lengths.sum())
        batch = max(1, round(2048 * len(windows) / per_target))        # windows holding ~2048 targets
    else:
        p_items, p_lengths, p_targets = prefixes(train, n)
        per_target, batch = len(p_targets), 2048
    best, best_state, epoch_s, curve = -1.0, None, [], []
    for _ in range(epochs):
        t = time.perf_counter()
        if objective == "every":
            sequence_ce.train_epoch(model, opt, windows, batch, rng)
        else:
            model.train()
            order = torch.as_tensor(rng.permutation(per_target))
            for s in range(0, per_target, batch):
                idx = order[s:s + batch]
                loss = F.cross_entropy(model.supervised(model.encoder(p_items[idx], p_lengths[idx])), p_targets[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
        epoch_s.append(time.perf_counter() - t)
        score = metrics(ranks_of(model, *val))["ndcg@10"]
        curve.append(score)
        if score > best:
            best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    ranks = ranks_of(model, *test)
    return {"val_ndcg@10": best, "best_epoch": int(np.argmax(curve)) + 1, "val_curve": curve,
            "test": metrics(ranks), "seconds_per_epoch": float(np.median(epoch_s)),
            "train_targets": per_target, "batch": batch, "objective": objective, "test_ranks": ranks.tolist()}


# ----------------------------------------------------------------------------- driver

def paired_difference(ranks, reference) -> dict:
    """Per-user NDCG@10 of ``ranks`` minus ``reference`` (same users, same order): mean and 95 % t-interval."""
    from recrl_core.eval import intervals

    gain = lambda r: np.where(np.asarray(r) < K, 1.0 / np.log2(np.asarray(r) + 2.0), 0.0)   # noqa: E731
    ci = intervals.t_interval(gain(ranks) - gain(reference))
    return {"mean": ci.mean, "low": ci.low, "high": ci.high, "users": ci.n, "verdict": ci.verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recbole-python", help="a Python with recbole==1.2.1 (omit to skip RecBole)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--part", choices=["recbole", "ours"], help=argparse.SUPPRESS)   # one side, JSON to stdout
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = Path(os.environ.get("RECRL_DATA_DIR", "data"))
    if args.part == "recbole":
        print(json.dumps(run_recbole(data_dir, args.epochs, args.seed)))
        return
    if args.part == "ours":
        print(json.dumps(run_ours(data_dir, args.epochs, args.seed, args.variant)))
        return
    rows, load_start = {}, list(os.getloadavg())
    brief = lambda row: {k: v for k, v in row.items() if k != "test_ranks"}      # noqa: E731

    def side(python: str, *extra: str) -> dict:        # each side in a fresh process, one after the other
        out = subprocess.run([python, __file__, "--epochs", str(args.epochs), "--seed", str(args.seed), *extra],
                             check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    if args.recbole_python:
        rows["RecBole 1.2.1 SASRec"] = side(args.recbole_python, "--part", "recbole")
        print("RecBole", json.dumps(brief(rows["RecBole 1.2.1 SASRec"])), flush=True)
    for v in args.variants:
        rows[f"ours: {v}"] = side(sys.executable, "--part", "ours", "--variant", v)
        print(v, json.dumps(brief(rows[f"ours: {v}"])), flush=True)
    ref = rows.get("RecBole 1.2.1 SASRec")
    if ref:
        for r in rows.values():
            r["speed_vs_recbole"] = ref["seconds_per_epoch"] / r["seconds_per_epoch"]
            r["test_ndcg_vs_recbole"] = r["test"]["ndcg@10"] / ref["test"]["ndcg@10"]
            r["test_ndcg_minus_recbole"] = paired_difference(r["test_ranks"], ref["test_ranks"])
    report = {"epochs": args.epochs, "seed": args.seed, "max_len": MAX_LEN, "threads": 2, "rows": rows,
              "load_average": {"start": load_start, "end": list(os.getloadavg())},   # > ~2.5: timings shared the CPU
              "command": " ".join(sys.argv)}
    out = Path(__file__).parent / "out" / f"sasrec_recbole_seed{args.seed}.json"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out)
    for name, r in rows.items():
        print(f"{name:32s} val {r['val_ndcg@10']:.4f} (epoch {r['best_epoch']}) test NDCG@10 {r['test']['ndcg@10']:.4f} "
              f"HR@10 {r['test']['hr@10']:.4f}  {r['seconds_per_epoch']:.1f} s/epoch")


if __name__ == "__main__":
    main()
