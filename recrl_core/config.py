"""The run-size switch and the project's folders.

``RECRL_MODE`` (``smoke`` | ``book`` | ``full``; unset means ``book``) is read
here, by :func:`current_mode`, and only notebooks and scripts call it. Library
functions never look at the environment: they take a config dataclass built
with ``SomeConfig.for_mode(mode)``.

Taught in: sec-how-to-use
"""

from __future__ import annotations

import enum
import os
import platform
from pathlib import Path


class Mode(enum.Enum):
    """How big a run is. Sizes change between modes; semantics never do."""

    SMOKE = "smoke"  # CI: tiny real-data slice, tiny models, seconds per notebook
    BOOK = "book"    # the published CPU run (default)
    FULL = "full"    # paper scale, GPU


MODE_ENV = "RECRL_MODE"
DATA_ENV = "RECRL_DATA_DIR"
CACHE_ENV = "RECRL_CACHE_DIR"
LM_ENV = "RECRL_LM"       # LLM chapters: a model folder, hub id or alias instead of the mode's LM


def current_mode() -> Mode:
    """Read ``RECRL_MODE`` once; unset or empty means ``Mode.BOOK``.

    Raises:
        ValueError: for any other value, listing the three accepted ones.
    """
    raw = os.environ.get(MODE_ENV, "").strip().lower()
    if not raw:
        return Mode.BOOK
    try:
        return Mode(raw)
    except ValueError:
        accepted = ", ".join(m.value for m in Mode)
        raise ValueError(f"{MODE_ENV}={raw!r} is not a run mode; use one of: {accepted}") from None


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_config.yml``.

    Notebooks execute inside their own chapter folder, so paths are resolved
    against this root rather than the working directory. Falls back to the
    folder above the installed package, then to ``start`` itself.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file():
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "_config.yml").is_file():
        return package_parent
    return here


def _folder_from_env(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    path = Path(raw).expanduser()
    return path if path.is_absolute() else project_root() / path


def data_dir() -> Path:
    """``$RECRL_DATA_DIR`` if set (relative values resolve against the project root), else ``<root>/data``."""
    return _folder_from_env(DATA_ENV, project_root() / "data")


def cache_dir() -> Path:
    """``$RECRL_CACHE_DIR`` if set, else ``<root>/.cache/recrl`` (converted models, cached LLM outputs)."""
    return _folder_from_env(CACHE_ENV, project_root() / ".cache" / "recrl")


def mode_banner(mode: Mode | None = None) -> str:
    """One short block naming mode, hardware, threads, versions and the data folder."""
    import numpy as np
    import pandas as pd
    import torch

    from recrl_core import __version__, hardware

    mode = mode or current_mode()
    lines = [
        f"RECRL_MODE      {mode.value}",
        f"device          {hardware.pick_device(prefer_gpu=mode is Mode.FULL)}"
        f" ({hardware.describe()})",
        f"torch threads   {torch.get_num_threads()}",
        f"versions        python {platform.python_version()}, recrl_core {__version__}, "
        f"torch {torch.__version__}, numpy {np.__version__}, pandas {pd.__version__}",
        f"data dir        {data_dir()}",
    ]
    return "\n".join(lines)
