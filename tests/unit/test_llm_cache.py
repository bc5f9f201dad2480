"""The LLM-output cache: stable keys, one computation, atomic files, loud corruption."""

import pytest

from recrl_core import caching
from recrl_core.llm import cache


def test_computes_once_and_reuses(tmp_path):
    calls = []
    store = cache.OutputCache("t", root=tmp_path)
    compute = lambda: calls.append(1) or ["a reply"]  # noqa: E731
    assert store(compute, model="m", prompt="p") == ["a reply"]
    assert store(compute, model="m", prompt="p") == ["a reply"]
    assert len(calls) == 1 and (store.hits, store.misses) == (1, 1)
    assert not list(tmp_path.rglob("*.part"))
    fresh = cache.OutputCache("t", root=tmp_path)                 # a new process reads the same file
    assert fresh(lambda: ["other"], model="m", prompt="p") == ["a reply"]


def test_corrupt_entry_names_the_file(tmp_path):
    store = cache.OutputCache("t", root=tmp_path)
    key = caching.make_key(model="m")
    store.put(key, 1)
    path = next(tmp_path.rglob("*.json"))
    path.write_text("{not json")
    with pytest.raises(ValueError, match=str(path.name)):
        store.get(key)


def test_failed_computation_leaves_nothing(tmp_path):
    store = cache.OutputCache("t", root=tmp_path)

    def boom():
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError):
        store(boom, model="m")
    assert not list(tmp_path.rglob("*.json"))
