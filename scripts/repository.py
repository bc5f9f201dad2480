"""Where the book lives on GitHub: one value, written into every page and notebook that links to it.

The repository URL and branch are set once, in ``_config.yml`` (``repository.url``,
``repository.branch``); the release that readers install is ``v`` + the package version in
``pyproject.toml``. Jupyter Book's launch buttons read ``_config.yml`` directly. Notebooks and
Markdown cannot, so the places that spell the URL out are generated from it:

- each chapter notebook's Colab install cell (and any other notebook's): ``%pip install -q "recrl-core @ git+<url>@v<version>"``
  (``recrl-core[llm]`` in the LLM chapters);
- the Colab links of ``book/for_instructors.md``;
- the student assignment notebooks (``scripts/assignments.py publish`` writes their Colab cell).

    python scripts/repository.py --check     # exit 1 naming every file that disagrees (`make test` runs it)
    python scripts/repository.py --write     # rewrite them after changing _config.yml or the version
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a spelled-out link looks like, whatever repository or release it names.
INSTALL = re.compile(r'git\+https://github\.com/[\w.-]+/[\w.-]+@v[\w.-]+')
COLAB = re.compile(r'https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/')


def repository() -> tuple[str, str]:
    """(GitHub URL, branch) of the book, from ``_config.yml``."""
    import yaml

    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = repo["url"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"_config.yml: repository.url {url!r} is not https://github.com/<owner>/<name>")
    return url, repo.get("branch", "main")


def release() -> str:
    """The git tag readers install: ``v`` + ``project.version`` of ``pyproject.toml``."""
    import tomllib

    return "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def install_source() -> str:
    """Where pip fetches the released library in the chapters' Colab cells (``recrl-core[...] @`` precedes it)."""
    url, _ = repository()
    return f"git+{url}@{release()}"


def colab_prefix() -> str:
    """Colab's address of the repository's files on the book's branch (a file path follows)."""
    url, branch = repository()
    return url.replace("https://github.com/", "https://colab.research.google.com/github/") + f"/blob/{branch}/"


def targets() -> dict[Path, list[tuple[re.Pattern, str]]]:
    """Each generated file and the (pattern, canonical text) pairs it must spell out."""
    notebooks = [nb for nb in sorted((ROOT / "book").rglob("*.ipynb"))                 # chapters, and any other
                 if nb.parent.name.startswith("ch") or "%pip install" in nb.read_text()]  # page that installs
    found = {nb: [(INSTALL, install_source())] for nb in notebooks if "_build" not in nb.parts}
    found[ROOT / "book" / "for_instructors.md"] = [(COLAB, colab_prefix())]
    return found


def disagreements() -> list[str]:
    """``file: found X, expected Y`` for every spelled-out link that is not the configured one."""
    problems = []
    for path, rules in targets().items():
        text = path.read_text()
        for pattern, canonical in rules:
            hits = pattern.findall(text)
            if not hits:
                problems.append(f"{path.relative_to(ROOT)}: no {pattern.pattern!r} (expected {canonical})")
            problems += [f"{path.relative_to(ROOT)}: {hit} (expected {canonical})" for hit in hits if hit != canonical]
    return problems


def write() -> list[Path]:
    """Rewrite every generated link to the configured value; returns the files that changed."""
    changed = []
    for path, rules in targets().items():
        text = new = path.read_text()
        for pattern, canonical in rules:
            new = pattern.sub(canonical.replace("\\", "\\\\"), new)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if args.write:
        for path in write():
            print(f"rewrote {path.relative_to(ROOT)}")
        print("Now rebuild the student notebooks: python scripts/assignments.py publish")
        return 0
    problems = disagreements()
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print("Links disagree with _config.yml's repository / pyproject's version: "
              "run `python scripts/repository.py --write`.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
