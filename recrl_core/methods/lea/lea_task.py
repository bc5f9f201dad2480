"""Chapter 8's task: data, item text and a cached LLM environment for LEA.

Datasets: HetRec Last.fm-2k as a 20-core slice (the book's stand-in for the
paper's LFM; item text = artist name + top tags) and the MovieLens
Fantasy|Romance slice (title + genres). :func:`build_environment` runs stages 1-2
(item tokens, then the LE on a seeded ``fraction`` of training users) and caches
the learned weights as safetensors keyed by the LM, the configs and the data.

Taught in: sec-llm-environment
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from recrl_core.caching import TensorCache, array_digest, make_key, tensor_digest
from recrl_core.config import Mode
from recrl_core.data import prepare
from recrl_core.data.sequences import user_sequences  # noqa: F401  (Ch. 8 calls it as lea_task.user_sequences)
from recrl_core.methods.lea import item_tokens as itok
from recrl_core.methods.lea.environment import INSTRUCTION, LEConfig, LEnvironment, fit_environment
from recrl_core.methods.lea.offline_pass import learned_state

LASTFM = "hetrec2011-lastfm-2k"
LE_VERSION = 2          # part of the cache key: bump when stages 1-2 change in a way the configs do not show
DATASETS = {"lastfm": dict(dataset=LASTFM, min_core=20),          # 304 users, 460 artists, 12.6k train events
            "movielens": dict(genres=("Fantasy", "Romance"))}    # 568 users, 949 movies, 20k train events


@dataclass(frozen=True)
class GridConfig:
    """What the chapter's ablation grid runs (spec-lea-defaults, "Ablation grid")."""
    datasets: tuple[str, ...] = ("lastfm", "movielens")
    backbones: tuple[str, ...] = ("gru4rec", "caser", "sasrec")
    methods: tuple[str, ...] = ("sqn", "sa2c")
    num_seeds: int = 3                       # mean +- std over seeds (spec-run-sizes)
    k_values: tuple[int, ...] = (0, 1, 2)    # K_aug of the K sweep (<= PassConfig.aug_k_max; 0 = state+reward)
    fractions: tuple[float, ...] = (0.05, 0.15, 0.5)   # extra LE training shares (beside LEConfig.fraction)

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("datasets", "backbones", "methods", "num_seeds", "k_values",
                                              "fractions")

    @classmethod
    def for_mode(cls, mode: Mode) -> "GridConfig":
        # book: one backbone keeps the 20-run grid near 5 minutes on 2 cores (a fused run costs ~2 plain ones)
        sizes = {Mode.FULL: {},
                 Mode.BOOK: dict(datasets=("lastfm",), backbones=("gru4rec",), num_seeds=2, fractions=(0.15,)),
                 Mode.SMOKE: dict(datasets=("lastfm",), backbones=("gru4rec",), methods=("sqn",), num_seeds=1,
                                  k_values=(0, 1), fractions=(0.15,))}[mode]
        return replace(cls(), **sizes)


def data_config(mode, name: str = "lastfm") -> prepare.DataConfig:
    """The chapter's DataConfig for ``name`` in ``DATASETS``; the same slice in every mode."""
    if name not in DATASETS:
        raise ValueError(f"unknown LEA dataset {name!r}; choose from {sorted(DATASETS)}")
    cfg = prepare.DataConfig.for_mode(mode, **DATASETS[name])
    # the 20-core Last.fm slice is already small; smoke keeps all of it (the LM is tiny there)
    return prepare.DataConfig(**{**asdict(cfg), "max_users": None}) if name == "lastfm" else cfg


def item_descriptions(prep: prepare.Prepared, data_dir: Path) -> tuple[list[str], list[str]]:
    """``(names, details)`` per encoded item index: Last.fm ``name`` / ``"an artist tagged a, b, c"``,
    MovieLens ``title`` / ``"a film of genres a, b"``."""
    raw = pd.Series(prep.encoded.items)
    if prep.cfg.dataset == LASTFM:
        from recrl_core.data import lastfm

        text = lastfm.item_text(data_dir).set_index("item").loc[raw]
        details = [f"an artist tagged {', '.join(t[:3])}" if len(t) else "an artist" for t in text["tags"]]
        return text["name"].tolist(), details
    from recrl_core.data import movielens

    text = movielens.item_text(data_dir).set_index("item").loc[raw]
    return text["title"].tolist(), [f"a film of genres {', '.join(g[:3])}" for g in text["genres"]]


def le_users(sequences: dict[int, np.ndarray], fraction: float, seed: int) -> list[int]:
    """The seeded subset of users (at least one) whose sequences train the LE."""
    users = np.array(sorted(sequences))
    size = max(1, int(round(fraction * len(users))))
    return sorted(np.random.default_rng(seed).choice(users, size=size, replace=False).tolist())


@dataclass
class Built:
    """The trained LE and what it took."""
    env: LEnvironment
    token_log: pd.DataFrame      # L_tok before (epoch 0) and after each epoch
    le_log: pd.DataFrame         # per LE step: loss, sm, rm
    users: list[int]             # the LE subset
    seconds: dict[str, float]
    cached: bool


def new_environment(lm, tok, tokens: itok.ItemTokens, cfg: LEConfig) -> LEnvironment:
    """Attach LoRA (r, α from ``cfg``; attention projections of the top ``cfg.adapt_layers`` layers,
    or of all) and fresh heads (seeded)."""
    from recrl_core.llm.lora import LoRAConfig, add_lora
    from recrl_core.llm.trunk import split_index

    split = split_index(lm.config.num_hidden_layers, cfg.adapt_layers)
    layers = None if cfg.adapt_layers is None else tuple(range(split, lm.config.num_hidden_layers))
    lm = add_lora(lm, LoRAConfig(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=0.05, layers=layers), seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    prefix = tok(INSTRUCTION, add_special_tokens=False)["input_ids"]
    return LEnvironment(lm, tokens, prefix, cfg.state_dim, split=split)


def build_environment(lm_name: str, prep: prepare.Prepared, data_dir: Path, tok_cfg: itok.ItemTokenConfig,
                      le_cfg: LEConfig, *, cache_root: Path | None = None, tokens: itok.ItemTokens | None = None,
                      device: str = "cpu", show_progress: bool = False) -> Built:
    """Stages 1-2, cached: item tokens (LM frozen), then adapters + heads with L_SM + λ L_RM.

    ``tokens``: item tokens learned before (e.g. by another build of the same data and
    ``tok_cfg``); stage 1 is then skipped and its log is empty. ``device``: where the LM
    runs (``hardware.pick_device``); the cached weights are the same on any device.
    The learned weights and both training logs go to ``<cache>/lea-environment/<key>.safetensors``.
    """
    from recrl_core.llm.models import load_lm

    lm, tok = load_lm(lm_name, device=device, seed=le_cfg.seed)
    names, details = item_descriptions(prep, data_dir)
    seqs = user_sequences(prep.train)
    users = le_users(seqs, le_cfg.fraction, le_cfg.seed)
    given = None if tokens is None else tensor_digest({"item_tokens": tokens.weight})
    key = make_key(lm=lm_name, tok=asdict(tok_cfg), le=asdict(le_cfg),
                   data=array_digest(prep.train[["user_idx", "item_idx"]].to_numpy()), names=names,
                   details=details, tokens=given, version=LE_VERSION)
    store = TensorCache("lea-environment", cache_root)
    stored = store.load(key)
    if stored is not None:
        env = _restore(lm, tok, len(names), le_cfg, stored[0], store.path(key))
        token_log, le_log = (_log_frame(stored[1][k]) for k in ("token_log", "le_log"))
        return Built(env, token_log, le_log, users, {}, True)
    t0 = time.perf_counter()
    if tokens is None:
        tokens, token_log = itok.fit_item_tokens(lm, tok, names, details, tok_cfg, show_progress=show_progress)
    else:
        itok.freeze_lm(lm)
        tokens, token_log = _copy(tokens, lm.get_input_embeddings().weight), pd.DataFrame(columns=["epoch", "loss"])
    t1 = time.perf_counter()
    env = new_environment(lm, tok, tokens, le_cfg)
    le_log = fit_environment(env, {u: seqs[u] for u in users}, le_cfg, show_progress=show_progress)
    seconds = {"item_tokens": t1 - t0, "environment": time.perf_counter() - t1}
    store.save(key, learned_state(env), meta={"token_log": token_log.to_json(orient="records"),
                                              "le_log": le_log.to_json(orient="records")})
    return Built(env, token_log, le_log, users, seconds, False)


def _restore(lm, tok, num_items: int, le_cfg: LEConfig, state: dict, path: Path) -> LEnvironment:
    """A fresh LE on ``lm`` with the stored learned weights (``path`` only names the file in errors)."""
    table = lm.get_input_embeddings().weight
    tokens = itok.ItemTokens(num_items, table.shape[1], lm.config.vocab_size).to(table.device, table.dtype)
    itok.freeze_lm(lm)
    env = new_environment(lm, tok, tokens, le_cfg)
    if set(state) != set(learned_state(env)):   # same names as saved: else a stale or foreign file
        raise ValueError(f"{path} does not match this LE's weights; delete the file to retrain")
    env.load_state_dict(state, strict=False)
    return env.eval()


def _log_frame(records: str) -> pd.DataFrame:
    """A training log stored as JSON records, back as a frame (all-empty columns dropped)."""
    return pd.read_json(io.StringIO(records), orient="records").dropna(axis=1, how="all")


def _copy(tokens: itok.ItemTokens, like: torch.Tensor) -> itok.ItemTokens:
    """A detached copy of ``tokens`` on the device and in the dtype of ``like`` (the LM's table)."""
    out = itok.ItemTokens(tokens.num_items, tokens.weight.shape[1], tokens.vocab_size).to(like.device, like.dtype)
    out.weight.data.copy_(tokens.weight.detach())
    return out
