"""On-disk cache of expensive LLM outputs, keyed by what produced them.

A key is :func:`recrl_core.caching.make_key` of its parts (model name, prompt or
prompt list, generation settings, seed, template hash, ...). Each entry is one
JSON file written atomically (temporary file, then rename), so an interrupted
run never leaves a half-written entry, and a re-run with the same key returns
exactly the stored value. Lives under ``config.cache_dir()/llm-outputs``.

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recrl_core import config
from recrl_core.caching import make_key
from recrl_core.data.files import atomic_path


class OutputCache:
    """A folder of JSON entries for one namespace (e.g. ``"genre-task"``)."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.folder = Path(root or config.cache_dir()) / "llm-outputs" / namespace
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` is (or would be) stored."""
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        """The stored value, or None. A corrupt entry is reported, not silently used."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())["value"]
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"corrupt LLM cache entry {path}: {err}; delete the file to recompute") from err

    def get_scores(self, key: str, count: int) -> list[float] | None:
        """A stored list of ``count`` finite numbers (e.g. candidate scores), or None; any other
        stored value is refused, naming the file to delete."""
        values = self.get(key)
        if values is not None and not (isinstance(values, list) and len(values) == count and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in values)):
            raise ValueError(f"LLM cache entry {self.path(key)} does not hold {count} finite scores: "
                             "delete the file to recompute it")
        return values

    def put(self, key: str, value: Any, parts: dict | None = None) -> None:
        """Store ``value`` (with the key's parts, for humans) atomically."""
        with atomic_path(self.path(key)) as tmp:
            tmp.write_text(json.dumps({"parts": parts, "value": value}, ensure_ascii=False,
                                      default=str) + "\n")

    def __call__(self, compute: Callable[[], Any], **parts: Any) -> Any:
        """``compute()`` once per distinct ``parts``; stored and reused afterwards."""
        key = make_key(**parts)
        value = self.get(key)
        if value is None:
            self.misses += 1
            value = compute()
            self.put(key, value, parts)
        else:
            self.hits += 1
        return value
