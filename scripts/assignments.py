#!/usr/bin/env python
"""Course assignments: build student and autograder versions, grade a submission, verify the tests.

Each assignment is one solution notebook, ``assignments/<name>/<name>.ipynb``, in Otter
Assign's format (otter-grader, pinned in the lock). Otter writes from it a student
notebook (solutions replaced by ``...``, public tests in ``tests/``) and an autograder
zip (public and hidden tests). Deliberately wrong answers, which the tests must catch,
sit beside it in ``wrong_answers.py`` as ``WRONG = {question: [(why, cell source), ...]}``.

    python scripts/assignments.py build [NAME ...]     # -> _build/assignments/<name>/{student,autograder}
    python scripts/assignments.py publish [NAME ...]   # -> assignments/<name>/student/ (committed; Colab opens it)
    python scripts/assignments.py grade SUBMISSION.ipynb
    python scripts/assignments.py verify [NAME ...]    # what CI checks (tests/assignments)
    python scripts/assignments.py site-config OUT.yml --cache DIR   # `make site-student`: no solutions

``grade`` finds the assignment from the notebook's ``otter.Notebook("<name>.ipynb")`` cell,
builds its autograder afresh, runs it locally (``otter run``: no Docker, no network) and
prints a score per question.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))    # the sibling scripts, also when imported by the tests
from repository import colab_prefix, repository  # noqa: E402  (one home of the book's URL)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments"
OTTER = [sys.executable, "-m", "otter"]


@dataclass(frozen=True)
class Built:
    student: Path        # the notebook to hand out (its tests/ folder beside it)
    autograder: Path     # the zip with every test


@dataclass(frozen=True)
class Score:
    question: str
    score: float
    max_score: float


def names() -> list[str]:
    """Every assignment: a folder of ``assignments/`` holding a notebook of the same name."""
    return sorted(p.parent.name for p in SOURCE.glob("*/*.ipynb") if p.stem == p.parent.name)


def master(name: str) -> Path:
    path = SOURCE / name / f"{name}.ipynb"
    if not path.is_file():
        raise SystemExit(f"no assignment {name!r}: expected {path.relative_to(ROOT)}; known: {', '.join(names())}")
    return path


def build(name: str, out: Path) -> Built:
    """``otter assign`` (which also runs every test against the solutions and fails if one does not pass).

    The student notebook then gets the Colab setup cell first and deterministic cell ids, so
    that two builds of the same source are byte-identical (the published copy can be checked).
    """
    out = out / name
    run = subprocess.run([*OTTER, "assign", "--no-pdfs", str(master(name)), str(out)],
                         cwd=master(name).parent, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"otter assign failed on {name} (exit {run.returncode}):\n{(run.stdout + run.stderr)[-4000:]}")
    zips = sorted((out / "autograder").glob(f"{name}-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"otter assign wrote {len(zips)} autograder zips in {out / 'autograder'}")
    student = out / "student" / f"{name}.ipynb"
    nb = nbformat.read(student, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(colab_cell(name)))
    for i, cell in enumerate(nb.cells):
        cell.id = hashlib.sha1(f"{name}:{i}:{cell.source}".encode()).hexdigest()[:8]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, student)
    return Built(student, zips[0])


def pinned(package: str) -> str:
    """``package==version`` as pinned in ``requirements.txt`` (one home for the version students install)."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == package:
            return line.strip()
    raise RuntimeError(f"requirements.txt does not pin {package}")


def colab_cell(name: str) -> str:
    """The student notebook's first cell: on Colab, install what the notebook needs and fetch its public tests."""
    url, branch = repository()
    otter = pinned("otter-grader")
    return f'''# On Google Colab only (skipped anywhere else): install otter-grader and the book's library,
# and fetch this assignment's public tests into ./tests.
import os, subprocess, sys
if "google.colab" in sys.modules and not os.path.isdir("tests"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{otter}",
                    "recrl-core @ git+{url}@{branch}"], check=True)
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "{branch}", "{url}", "/tmp/recrl-book"], check=True)
    import shutil
    shutil.copytree("/tmp/recrl-book/assignments/{name}/student/tests", "tests")'''


def colab_url(name: str) -> str:
    """The Colab link that opens the published student notebook."""
    return colab_prefix() + f"assignments/{name}/student/{name}.ipynb"


def published(name: str) -> Path:
    """Where the student version is committed: the notebook and its public tests (Colab reads them there)."""
    return SOURCE / name / "student"


def publish(name: str, built: Built) -> None:
    """Replace the committed student version with a fresh build."""
    target = published(name)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(built.student.parent, target)


def stale(name: str, built: Built) -> list[str]:
    """Files of the committed student version that differ from a fresh build (or are missing / extra)."""
    fresh = {p.relative_to(built.student.parent): p.read_bytes() for p in built.student.parent.rglob("*") if p.is_file()}
    target = published(name)
    kept = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()} if target.is_dir() else {}
    return sorted(str(f) for f in fresh.keys() | kept.keys() if fresh.get(f) != kept.get(f))


def grade_with(autograder: Path, submission: Path) -> list[Score]:
    """Run the autograder on a notebook; one score per question (public-test status row dropped)."""
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        run = subprocess.run([*OTTER, "run", "--no-logo", "-a", str(autograder), "-o", tmp, str(submission)],
                             capture_output=True, text=True)
        results = Path(tmp) / "results.json"
        if not results.is_file():
            raise RuntimeError(f"otter run wrote no results for {submission}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        tests = json.loads(results.read_text())["tests"]
    return [Score(t["name"], float(t["score"]), float(t["max_score"])) for t in tests
            if t.get("max_score") is not None]


def assignment_of(submission: Path) -> str:
    """The assignment name in the submission's ``otter.Notebook("<name>.ipynb")`` cell."""
    nb = nbformat.read(submission, as_version=4)
    for cell in nb.cells:
        found = re.search(r"otter\.Notebook\(\s*[\"']([\w.-]+)\.ipynb[\"']", cell.source)
        if found:
            return found.group(1)
    raise SystemExit(f"{submission}: no otter.Notebook(...) cell; is this a student notebook from "
                     "`make assignments`?")


def wrong_answers(name: str) -> dict[str, list[tuple[str, str]]]:
    """``WRONG`` of ``assignments/<name>/wrong_answers.py``, read as a literal (never executed)."""
    path = SOURCE / name / "wrong_answers.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["WRONG"]:
            return ast.literal_eval(node.value)
    raise RuntimeError(f"{path}: no WRONG = {{...}} literal")


def with_answers(student: Path, sources: list[str], out: Path) -> Path:
    """A copy of the student notebook in which each answer cell (same first line as a source) holds that source."""
    nb = nbformat.read(student, as_version=4)
    for source in sources:
        first = source.strip().splitlines()[0]
        cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip().splitlines()[:1] == [first]]
        if len(cells) != 1:
            raise RuntimeError(f"{student.name}: {len(cells)} code cells start with {first!r}; expected one")
        cells[0].source = source
    nbformat.write(nb, out)
    return out


def verify(name: str, work: Path) -> dict:
    """Solutions score full marks, the blank student notebook scores 0 everywhere, each wrong answer loses marks."""
    built = build(name, work)
    problems = [f"assignments/{name}/student/ is stale ({', '.join(changed)}): run "
                f"`python scripts/assignments.py publish {name}` and commit it" for changed in [stale(name, built)] if changed]
    start = time.perf_counter()
    solution = {s.question: s for s in grade_with(built.autograder, built.autograder.parent / f"{name}.ipynb")}
    seconds = time.perf_counter() - start                # the whole notebook and every test, as a grader runs it
    problems += [f"solution loses marks on {q}: {s.score}/{s.max_score}" for q, s in solution.items()
                 if s.score != s.max_score]
    blank = grade_with(built.autograder, built.student)
    problems += [f"blank answer scores {s.score}/{s.max_score} on {s.question}" for s in blank if s.score != 0]
    wrong = wrong_answers(name)
    problems += [f"{q} has no deliberately wrong answer in wrong_answers.py" for q in solution if not wrong.get(q)]
    caught = {}
    for i in range(max(map(len, wrong.values()), default=0)):     # questions are independent: one run per round
        round_ = {q: answers[i] for q, answers in wrong.items() if i < len(answers)}
        nb = with_answers(built.student, [src for _, src in round_.values()], work / name / f"wrong_{i}.ipynb")
        scores = {s.question: s for s in grade_with(built.autograder, nb)}
        for question, (why, _) in round_.items():
            caught[f"{question}: {why}"] = scores[question].score
            if scores[question].score >= scores[question].max_score:
                problems.append(f"{question}: the wrong answer ({why}) gets full marks")
    tests = {q: count_tests(built.autograder.parent / "tests" / f"{q}.py") for q in solution}
    return {"assignment": name, "questions": {q: s.max_score for q, s in solution.items()}, "tests": tests,
            "graded_run_seconds": round(seconds, 1), "wrong_answer_scores": caught, "problems": problems}


def count_tests(path: Path) -> dict[str, int]:
    """Public and hidden test cases of one question's OK-format file."""
    cases = [c for suite in _ok_test(path)["suites"] for c in suite["cases"]]
    return {"public": sum(not c["hidden"] for c in cases), "hidden": sum(bool(c["hidden"]) for c in cases)}


def _ok_test(path: Path) -> dict:
    tree = ast.parse(path.read_text())
    return next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "test")


def student_site_config(out: Path, cache: Path) -> Path:
    """The book's ``_config.yml`` with sphinx-exercise's ``hide_solutions`` on, reading executed outputs from ``cache``.

    With the cache of an earlier build of the same notebooks (``make site`` or ``make book``), the
    student site re-executes nothing; a missing or stale cache entry is executed as usual.
    """
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    local = cfg["sphinx"].get("local_extensions") or {}      # relative to the config file: keep them resolvable
    cfg["sphinx"]["local_extensions"] = {name: str((ROOT / path).resolve()) for name, path in local.items()}
    cfg.setdefault("execute", {})["cache"] = str(cache.resolve())
    cfg["title"] = f"{cfg.get('title', 'RecRL Book')} (student edition)"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="student and autograder versions into --out")
    b.add_argument("names", nargs="*")
    b.add_argument("--out", type=Path, default=ROOT / "_build" / "assignments")
    g = sub.add_parser("grade", help="score a submitted notebook, per question")
    g.add_argument("submission", type=Path)
    v = sub.add_parser("verify", help="solutions pass, blank answers fail, wrong answers lose marks")
    v.add_argument("names", nargs="*")
    pub = sub.add_parser("publish", help="rebuild the committed student versions (assignments/<name>/student/)")
    pub.add_argument("names", nargs="*")
    c = sub.add_parser("site-config", help="a Jupyter Book config for the website without exercise solutions")
    c.add_argument("out", type=Path)
    c.add_argument("--cache", type=Path, required=True, help="the execution cache of an earlier build")
    args = parser.parse_args()
    if args.command == "site-config":
        print(student_site_config(args.out, args.cache))
        return
    if args.command == "publish":
        with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
            for name in args.names or names():
                publish(name, build(name, Path(tmp)))
                print(f"{name}: {published(name).relative_to(ROOT)}  (Colab: {colab_url(name)})")
        return
    if args.command == "build":
        for name in args.names or names():
            built = build(name, args.out.resolve())
            print(f"{name}: hand out {built.student.parent} (notebook + tests/); grade with {built.autograder.name}")
    elif args.command == "grade":
        if not args.submission.is_file():
            raise SystemExit(f"{args.submission}: no such file")
        name = assignment_of(args.submission)
        with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
            scores = grade_with(build(name, Path(tmp)).autograder, args.submission.resolve())
        for s in scores:
            print(f"{s.question:32s} {s.score:5.2f} / {s.max_score:g}")
        total, best = sum(s.score for s in scores), sum(s.max_score for s in scores)
        print(f"{'total':32s} {total:5.2f} / {best:g}  ({name})")
    else:
        failed = False
        with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
            for name in args.names or names():
                report = verify(name, Path(tmp))
                print(json.dumps(report, indent=1))
                failed |= bool(report["problems"])
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
