"""The house map holds: imports run downward only, methods stay apart, and every module is listed.

Layers, lowest first (a module may import its own package and any lower layer):

    hardware, seeding, plotting, progress, distributed  <  config  <  data  <  caching, results
    <  eval, seqrec, baselines  <  rl, llm, envs  <  train  <  methods  <  notebook

Packages of one layer never import each other, and one method never imports
another (``methods.lea`` and ``methods.shielded`` share only what lives below).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import recrl_core

PACKAGE = Path(recrl_core.__file__).resolve().parent
LAYERS = [{"__init__", "hardware", "seeding", "plotting", "progress", "distributed"}, {"config"}, {"data"}, {"caching", "results"},
          {"eval", "seqrec", "baselines"}, {"rl", "llm", "envs"}, {"train"}, {"methods"}, {"notebook"}]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """recrl_core modules imported anywhere in ``path`` (function-level imports included), without the prefix."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recrl_core"):
            base = node.module.removeprefix("recrl_core").lstrip(".")
            out |= {f"{base}.{a.name}".lstrip(".") if not base or base.count(".") == 0 else base for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("recrl_core").lstrip(".") for a in node.names if a.name.startswith("recrl_core")}
    return {name for name in out if name and name != "__version__"}


def _top(name: str) -> str:
    return name.split(".")[0] if name else "__init__"


def _method(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "methods" and len(parts) >= 2 else None


MODULES = _modules()


def test_every_top_level_module_has_a_layer():
    assert {_top(m) for m in MODULES} <= set(RANK), {_top(m) for m in MODULES} - set(RANK)


@pytest.mark.parametrize("module", sorted(MODULES), ids=str)
def test_imports_run_downward_only(module):
    here = _top(module)
    for target in _imports(MODULES[module]):
        there = _top(target)
        if there == here:
            mine, theirs = _method(module), _method(target)
            assert not (mine and theirs and mine != theirs), f"{module} imports another method: {target}"
            continue
        assert RANK[there] < RANK[here], f"{module} (layer {RANK[here]}) imports {target} (layer {RANK[there]})"


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and m != "__init__"),
                         ids=str)
def test_package_docstrings_list_every_module(package):
    """Each toolkit's docstring names all its modules (``name``), so the house map cannot go stale."""
    init = MODULES[package]
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    children = sorted(p.stem for p in init.parent.glob("*.py") if p.name != "__init__.py")
    children += sorted(p.name for p in init.parent.iterdir() if (p / "__init__.py").is_file())
    missing = [c for c in children if not re.search(rf"``{c}``|\b{c}/", doc)]
    assert not missing, f"{package.replace('.__init__', '')} docstring does not list: {missing}"


def test_no_module_name_is_used_twice():
    stems = [p.stem for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"]
    assert sorted({s for s in stems if stems.count(s) > 1}) == []
