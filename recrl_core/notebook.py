"""The setup cell of every chapter notebook, in one place.

Every section notebook starts the same way (spec-run-sizes, spec-determinism):
read the run mode once, print the banner (mode, device, threads, versions, data
folder), apply the book's plot style, seed everything and find the data folder;
the LLM chapters also pick their language model (``RECRL_LM`` overrides the mode's
default) and the device it runs on::

    from recrl_core import notebook
    MODE, SEED, DATA_DIR = notebook.setup(seed=0)
    LM_NAME, DEVICE = notebook.language_model(MODE)      # LLM chapters only

This module sits above every other part of the library (only notebooks and
scripts import it), so it may import any of them; it loads the LLM stack only
inside :func:`language_model`.

Taught in: sec-how-to-use
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from recrl_core import config, hardware, plotting, progress, seeding
from recrl_core.config import Mode


class Setup(NamedTuple):
    """What a notebook's first cell defines."""

    mode: Mode
    seed: int
    data_dir: Path


def setup(seed: int = 0) -> Setup:
    """Read ``RECRL_MODE``, print the banner, apply the plot style, seed everything; return the basics.

    Under ``TQDM_DISABLE=1`` it also hides the progress bars of Hugging Face libraries (``progress``).

    Args:
        seed: the notebook's seed (``seeding.seed_everything``).
    Returns:
        ``(mode, seed, data_dir)``.
    Raises:
        ValueError: ``RECRL_MODE`` is not smoke, book or full.
    """
    mode = config.current_mode()
    print(config.mode_banner(mode))
    plotting.use_book_style()
    progress.hide_library_bars()                  # TQDM_DISABLE=1 (the Makefile's builds): no bars saved as widgets
    seeding.seed_everything(seed)
    return Setup(mode, seed, config.data_dir())


def language_model(mode: Mode) -> tuple[str, str]:
    """``(lm_name, device)`` for the LLM chapters: the mode's LM unless ``RECRL_LM`` names another,
    on the GPU in full mode when there is one (``hardware.pick_device``), else the CPU."""
    from recrl_core.llm import models

    return (models.lm_for_mode(mode, os.environ.get(config.LM_ENV)),
            hardware.pick_device(prefer_gpu=mode is Mode.FULL))
