"""Cache keys, digests and the safetensors cache: stable, exact, atomic, loud on corruption."""

import numpy as np
import pytest
import torch

from recrl_core import caching


def test_key_is_stable_and_order_free():
    assert caching.make_key(model="m", prompt="p", seed=1) == caching.make_key(seed=1, prompt="p", model="m")
    assert caching.make_key(model="m", prompt="p", seed=1) != caching.make_key(model="m", prompt="p", seed=2)


def test_tensor_digest_is_exact_bytes_for_any_dtype():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert caching.tensor_digest({"w": a}) == caching.tensor_digest({"w": a.clone()})
    assert caching.tensor_digest({"w": a}) != caching.tensor_digest({"w": a + 1e-6})      # one ulp-sized change
    assert caching.tensor_digest({"w": a}) != caching.tensor_digest({"v": a})             # names count
    half = a.to(torch.bfloat16)                                                          # numpy has no bf16
    assert caching.tensor_digest({"w": half}) != caching.tensor_digest({"w": a})
    assert caching.tensor_digest({"w": half}) == caching.tensor_digest({"w": half.clone()})


def test_array_digest_sees_values_and_order_of_arrays():
    users, items = np.array([0, 0, 1]), np.array([5, 6, 5])
    assert caching.array_digest(users, items) == caching.array_digest(users.copy(), items.copy())
    assert caching.array_digest(users, items) != caching.array_digest(items, users)
    assert caching.array_digest(users, items) != caching.array_digest(users, np.array([5, 6, 7]))
    strided = np.arange(12).reshape(3, 4)[:, ::2]                          # not C-contiguous: same bytes as a copy
    assert caching.array_digest(strided) == caching.array_digest(strided.copy())


def test_tensor_cache_round_trip_torch_and_numpy_with_meta(tmp_path):
    store = caching.TensorCache("things", root=tmp_path)
    assert store.load("k") is None
    w = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    ids = np.array([[1, 2], [3, 4]], dtype=np.int64)
    path = store.save("k", {"w": w, "ids": ids}, meta={"log": [1, 2], "note": "x"})
    assert path == tmp_path / "things" / "k.safetensors" and not list(tmp_path.rglob("*.part"))
    tensors, meta = store.load("k")
    torch.testing.assert_close(tensors["w"], w, rtol=0, atol=0)
    assert tensors["ids"].dtype == torch.int64 and np.array_equal(tensors["ids"].numpy(), ids)
    assert meta == {"log": [1, 2], "note": "x"}
    assert caching.TensorCache("things", root=tmp_path).load("k")[1] == meta      # a new process reads it too


def test_tensor_cache_names_a_corrupt_file_and_never_half_writes(tmp_path):
    store = caching.TensorCache("things", root=tmp_path)
    store.path("bad").parent.mkdir(parents=True)
    store.path("bad").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors"):
        store.load("bad")
    with pytest.raises(Exception):
        store.save("half", {"w": object()})                                # not a tensor: fails before the rename
    assert not store.path("half").exists() and not list(tmp_path.rglob("*.part"))
