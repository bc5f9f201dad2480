"""Test-wide settings: smoke mode, CPU, offline; small shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Before anything imports torch or transformers: tests never touch a model hub or a GPU.
os.environ["RECRL_MODE"] = "smoke"
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "TQDM_DISABLE"):
    os.environ[_name] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("RECRL_GPU_TESTS") != "1":      # `make gpu-tests` sets it; everything else is CPU-only
    os.environ["CUDA_VISIBLE_DEVICES"] = ""

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def tiny_events() -> pd.DataFrame:
    """~20 hand-written MovieLens-style rows (tests/data/tiny_events.csv), validated."""
    from recrl_core.data import interactions

    raw = pd.read_csv(TESTS / "data" / "tiny_events.csv")
    return interactions.validate(raw, source="tiny_events.csv")


@pytest.fixture(scope="session")
def lm_tokenizer():
    """SmolLM2's tokenizer (converts the offline LM into the cache once, ~20 s)."""
    from recrl_core.llm import models

    return models.load_tokenizer(models.SMOLLM2)


@pytest.fixture
def tiny_lm(lm_tokenizer):
    """A random 2-layer, 64-dim Llama that shares SmolLM2's tokenizer; seeded."""
    from recrl_core.llm import models

    return models.tiny_causal_lm("llama", vocab_size=len(lm_tokenizer), seed=0, tokenizer=lm_tokenizer)


@pytest.fixture(scope="session")
def script():
    """``script("clean_notebooks")``: a file of ``scripts/`` imported as a module (they are not a package)."""
    import importlib.util
    import sys

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module          # dataclasses look their module up while the class is created
        spec.loader.exec_module(module)
        return module

    return load
