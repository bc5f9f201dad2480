"""The notebooks' setup cell: one call reads the mode, prints the banner, seeds, finds the data and the LM."""

import random

import numpy as np
import pytest
import torch

from recrl_core import config, notebook
from recrl_core.config import Mode


def test_setup_reads_the_mode_prints_the_banner_and_seeds(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RECRL_MODE", "smoke")
    monkeypatch.setenv("RECRL_DATA_DIR", str(tmp_path))
    mode, seed, data_dir = notebook.setup(seed=7)
    assert (mode, seed, data_dir) == (Mode.SMOKE, 7, tmp_path)
    banner = capsys.readouterr().out
    assert banner.strip() == config.mode_banner(Mode.SMOKE).strip() and "RECRL_MODE      smoke" in banner
    drawn = (random.random(), np.random.rand(), torch.rand(1).item())
    notebook.setup(seed=7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == drawn        # seeded everything again


def test_setup_rejects_an_unknown_mode(monkeypatch):
    monkeypatch.setenv("RECRL_MODE", "huge")
    with pytest.raises(ValueError, match="smoke, book, full"):
        notebook.setup()


def test_language_model_is_the_modes_unless_recrl_lm_says_otherwise(monkeypatch):
    pytest.importorskip("transformers")
    from recrl_core.llm import models

    monkeypatch.delenv(config.LM_ENV, raising=False)
    assert notebook.language_model(Mode.SMOKE) == (models.MODE_MODELS["smoke"], "cpu")
    assert notebook.language_model(Mode.BOOK)[0] == models.MODE_MODELS["book"]
    monkeypatch.setenv(config.LM_ENV, "/models/my-lm")
    assert notebook.language_model(Mode.BOOK) == ("/models/my-lm", "cpu")
