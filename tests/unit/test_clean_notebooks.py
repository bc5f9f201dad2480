"""scripts/clean_notebooks.py: dirty notebooks are reported, cleaning is complete and idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "clean_notebooks.py"


@pytest.fixture(scope="module")
def cn(script):
    return script("clean_notebooks")


def _dirty_notebook():
    v4 = nbformat.v4
    code = v4.new_code_cell(
        "print(1 + 1)",
        execution_count=7,
        outputs=[v4.new_output("stream", name="stdout", text="2\n")],
        metadata={
            "tags": ["remove-input"],
            "mystnb": {"figure": {"caption": "A caption", "name": "fig-demo"}},
            "execution": {"iopub.execute_input": "2025-01-01T00:00:00Z"},
            "ExecuteTime": {"end_time": "2025-01-01T00:00:01Z"},
            "collapsed": False,
            "scrolled": True,
            "jupyter": {"source_hidden": True, "some_volatile": 1},
        },
    )
    md = v4.new_markdown_cell("# Title", metadata={"id": "abc"})
    nb = v4.new_notebook(cells=[md, code])
    nb.metadata = {
        "kernelspec": {"name": "my-env", "display_name": "My env", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
        "mystnb": {"execution_timeout": 600},
    }
    return nb


def _write(nb, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


def test_check_reports_dirty_notebook(cn, tmp_path, capsys):
    path = _write(_dirty_notebook(), tmp_path / "dirty.ipynb")
    before = path.read_bytes()

    assert cn.main(["--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "dirty.ipynb" in out
    for reason in ("output", "execution_count=7", "ExecuteTime", "execution", "collapsed",
                   "scrolled", "jupyter.some_volatile", "widgets", "kernelspec", "language_info"):
        assert reason in out, reason
    assert path.read_bytes() == before, "--check must not write"


def test_is_clean_lists_reasons(cn):
    nb = _dirty_notebook()
    reasons = cn.is_clean(nb)
    assert any("output" in r for r in reasons)
    assert cn.is_clean(cn.clean(nb)) == []
    assert nb.cells[1].outputs, "clean() must not modify its argument"


def test_clean_then_check_passes_and_keeps_content(cn, tmp_path):
    path = _write(_dirty_notebook(), tmp_path / "dirty.ipynb")
    assert cn.main([str(path)]) == 0
    assert cn.main(["--check", str(path)]) == 0

    nb = nbformat.read(path, as_version=4)
    code = nb.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.source == "print(1 + 1)"
    assert code.metadata["tags"] == ["remove-input"]
    assert code.metadata["mystnb"] == {"figure": {"caption": "A caption", "name": "fig-demo"}}
    assert code.metadata["jupyter"] == {"source_hidden": True}
    assert set(code.metadata) == {"tags", "mystnb", "jupyter"}
    assert nb.cells[0].metadata == {}
    assert nb.metadata == {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "mystnb": {"execution_timeout": 600},
    }
    nbformat.validate(nb)


def test_cleaning_is_idempotent(cn, tmp_path):
    path = _write(_dirty_notebook(), tmp_path / "nb.ipynb")
    cn.main([str(path)])
    first = path.read_bytes()
    cn.main([str(path)])
    assert path.read_bytes() == first
    assert first.endswith(b"}\n")


def test_missing_cell_ids_are_filled_deterministically(cn, tmp_path):
    nb = _dirty_notebook()
    for cell in nb.cells:
        del cell["id"]
    a, b = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    for path in (a, b):
        path.write_text(json.dumps(nb, indent=2))  # nbformat.write would add random ids
        assert cn.main([str(path)]) == 0
    assert a.read_bytes() == b.read_bytes()
    ids = [c.id for c in nbformat.read(a, as_version=4).cells]
    assert all(ids) and len(set(ids)) == len(ids)


def test_folder_walk_skips_build_and_checkpoints(cn, tmp_path):
    book = tmp_path / "book"
    for rel in ("ch01/01_a.ipynb", "_build/jupyter_execute/01_a.ipynb",
                "ch01/.ipynb_checkpoints/01_a-checkpoint.ipynb"):
        (book / rel).parent.mkdir(parents=True, exist_ok=True)
        _write(_dirty_notebook(), book / rel)
    found = cn.find_notebooks([str(book)])
    assert [p.relative_to(book).as_posix() for p in found] == ["ch01/01_a.ipynb"]


def test_cli_subprocess_exit_codes(tmp_path):
    path = _write(_dirty_notebook(), tmp_path / "nb.ipynb")
    run = lambda *a: subprocess.run([sys.executable, str(SCRIPT), *a], capture_output=True, text=True)
    dirty = run("--check", str(path))
    assert dirty.returncode == 1 and "not clean" in dirty.stdout
    assert run(str(path)).returncode == 0
    assert run("--check", str(path)).returncode == 0
