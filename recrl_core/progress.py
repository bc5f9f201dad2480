"""Progress bars of the book's long loops: shown where a person watches, hidden in logs and builds.

Every loop that can run for minutes (training, LLM passes, full ranking) iterates through
:func:`bar`. ``TQDM_DISABLE=1`` hides every bar even where a caller asked for one: tqdm's own
reading of that variable only changes its default, and our callers pass ``disable`` explicitly.
The Makefile sets it for CI and the website builds, where a bar would otherwise be saved into
the executed notebook as a Jupyter widget the published page cannot show (and whose scripts
come from a CDN). :func:`hide_library_bars` extends it to the bars of Hugging Face libraries
(loading and saving weights); every chapter's setup cell calls it.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def hidden() -> bool:
    """True when the environment asks for no progress bars (``TQDM_DISABLE`` set and not 0/false)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


def bar(iterable: Iterable[T], *, desc: str, show: bool = True, **kwargs) -> Iterable[T]:
    """``iterable`` with a tqdm bar (a widget in notebooks); no bar when ``show`` is False or :func:`hidden`."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=not show or hidden(), **kwargs)


def hide_library_bars() -> None:
    """Under :func:`hidden`, also silence huggingface_hub's and transformers' bars (weights loading, saving)."""
    if not hidden():
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")     # read when huggingface_hub is imported
    if "huggingface_hub" in sys.modules:                             # already imported: switch them off now
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
