"""Cache keys, content digests and the one on-disk cache of tensors (safetensors).

Everything the book computes once and reuses is stored under ``config.cache_dir()``
with a key that names what produced it:

* :func:`make_key` — SHA-256 of a canonical JSON of keyword parts (configs, model
  name, digests of the data); order-independent.
* :func:`array_digest` / :func:`tensor_digest` — SHA-256 of exact bytes, so a key can
  name a data table or learned weights without serialising them into JSON.
* :class:`TensorCache` — a folder of ``<key>.safetensors`` files: a dict of tensors
  plus a small JSON-able ``meta`` dict in the file header. Writes are atomic
  (temporary file, then rename); files are never unpickled. The Ch. 3 ranker of
  Ch. 7, LEA's environment and LEA's offline pass all store through it. JSON outputs
  of LLM calls have their own cache, :class:`recrl_core.llm.cache.OutputCache`.

Importing this module loads no torch; torch and safetensors load on first use.

Taught in: sec-how-to-use
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from recrl_core import config
from recrl_core.data.files import atomic_path

META_KEY = "recrl_meta"      # the safetensors header entry that holds ``meta`` as JSON


def make_key(**parts: Any) -> str:
    """Stable hex key of keyword parts (order-independent; values must be JSON-serialisable)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def array_digest(*arrays: np.ndarray) -> str:
    """SHA-256 over the C-ordered bytes of ``arrays``, concatenated in order (dtype and shape not hashed)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def tensor_digest(tensors: dict) -> str:
    """SHA-256 over the names and exact bytes of ``tensors`` (any dtype, bf16 too; any device), in name order."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class TensorCache:
    """``<root>/<namespace>/<key>.safetensors``: named tensors and a JSON ``meta`` dict per key.

    Args:
        namespace: folder name, e.g. ``"rankers"``.
        root: the cache folder (default ``config.cache_dir()``).
    """

    def __init__(self, namespace: str, root: Path | None = None):
        self.folder = Path(root or config.cache_dir()) / namespace

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def load(self, key: str) -> tuple[dict, dict] | None:
        """``(tensors, meta)`` stored under ``key`` (CPU torch tensors), or None if absent.

        Raises:
            ValueError: the file exists but is not a readable safetensors file (names it).
        """
        from safetensors import safe_open

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}
                header = handle.metadata() or {}
        except Exception as err:                       # safetensors raises its own error types
            raise ValueError(f"corrupt cache file {path}: {err}; delete it to recompute") from err
        return tensors, json.loads(header.get(META_KEY, "{}"))

    def save(self, key: str, tensors: dict, meta: dict | None = None) -> Path:
        """Store ``tensors`` (torch tensors or NumPy arrays) and ``meta`` atomically; returns the path."""
        import torch
        from safetensors.torch import save_file

        plain = {name: (torch.from_numpy(np.ascontiguousarray(t)) if isinstance(t, np.ndarray)
                        else t.detach().cpu().contiguous()) for name, t in tensors.items()}
        path = self.path(key)
        with atomic_path(path) as tmp:
            save_file(plain, str(tmp), metadata={META_KEY: json.dumps(meta or {}, default=str)})
        return path
