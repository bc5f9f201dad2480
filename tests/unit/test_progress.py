"""Progress bars obey TQDM_DISABLE even where the caller asked for one (the website builds rely on it)."""

import pytest

from recrl_core import progress


@pytest.mark.parametrize("env, show, shown", [
    (None, True, True), (None, False, False),
    ("1", True, False), ("true", True, False),     # the Makefile's TQDM_DISABLE=1 wins over show=True
    ("0", True, True), ("", True, True),
])
def test_bar_is_hidden_by_the_environment_or_by_the_caller(monkeypatch, env, show, shown):
    if env is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env)
    it = progress.bar(range(3), desc="test", show=show)
    assert it.disable is (not shown)
    assert list(it) == [0, 1, 2]                     # the iterable is passed through either way


@pytest.mark.parametrize("tqdm_disable, off", [("1", True), ("0", False)])
def test_library_bars_follow_tqdm_disable(tqdm_disable, off):
    """In a fresh process (the hub reads its switch once per process): TQDM_DISABLE=1 silences hub/transformers bars."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"} | {"TQDM_DISABLE": tqdm_disable}
    code = ("import huggingface_hub.utils as h; from recrl_core import progress; "
            "before = h.are_progress_bars_disabled(); progress.hide_library_bars(); "
            "print(before, h.are_progress_bars_disabled())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", str(off)]
