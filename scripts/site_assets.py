"""Third-party files the website serves itself, so that a page reads the same with the network off.

Jupyter Book loads MathJax from a CDN by default: offline (a classroom lab, a train, anyone who
ran ``make book`` without network) every equation then shows as raw TeX. This script fetches
MathJax from the npm registry once (pinned version, checked against its SHA-256), keeps the files
a page needs (the ``tex-mml-chtml`` component, its web fonts, the TeX extensions and the UI and
accessibility components it loads on demand, with English speech rules) and installs them in ``.cache/site/mathjax/``, which
``_config.yml`` names as a static path: Sphinx copies it into ``_static/`` and pages load
``_static/mathjax/tex-mml-chtml.js``. Online readers see no difference.

    python scripts/site_assets.py            # install if missing or incomplete (``make setup`` runs it)
    python scripts/site_assets.py --check    # exit 1 with the remedy if it is not installed

The download is cached in ``$RECRL_CACHE_HOME`` (default ``~/.cache/recrl-book``); the install goes
through a temporary folder and a rename, so an interrupted run never leaves a half-written copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / ".cache" / "site"            # _config.yml: sphinx.config.html_static_path


@dataclass(frozen=True)
class Package:
    """An npm package: where to get it, how to verify it, which of its files the site serves."""
    name: str
    version: str
    sha256: str
    prefix: str                   # folder inside the tarball whose contents we keep
    keep: tuple[str, ...]         # files or folders under ``prefix``

    @property
    def url(self) -> str:
        return f"https://registry.npmjs.org/{self.name}/-/{self.name}-{self.version}.tgz"

    @property
    def marker(self) -> Path:
        """Written last: its presence means the install finished (and which version it holds)."""
        return TARGET / self.name / f".{self.name}-{self.version}"


MATHJAX = Package(
    name="mathjax", version="3.2.2",                 # Apache-2.0
    sha256="1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
    prefix="package/es5/",
    keep=("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y",
          "sre/mathmaps/base.json", "sre/mathmaps/en.json"),      # speech rules: the book is in English
)


def download_cache() -> Path:
    return Path(os.environ.get("RECRL_CACHE_HOME", Path.home() / ".cache" / "recrl-book")) / "downloads"


def fetch(package: Package) -> Path:
    """The verified tarball, downloaded once into the download cache."""
    sys.path.insert(0, str(ROOT))
    from recrl_core.data import download, files

    tarball = download_cache() / f"{package.name}-{package.version}.tgz"
    if not tarball.exists() or files.sha256(tarball) != package.sha256:
        tarball.parent.mkdir(parents=True, exist_ok=True)
        download.fetch_zip(package.url, tarball)
    got = files.sha256(tarball)
    if got != package.sha256:
        tarball.unlink()
        raise SystemExit(f"{tarball}: SHA-256 {got} does not match the pinned {package.sha256} "
                         f"({package.url}); the file was removed, run the command again.")
    return tarball


def _kept(member: str, package: Package) -> str | None:
    """The path under the install folder for a tarball member we keep, else None."""
    if not member.startswith(package.prefix):
        return None
    rel = member[len(package.prefix):]
    return rel if any(rel == k or rel.startswith(k + "/") for k in package.keep) else None


def install(package: Package) -> Path:
    """Extract the kept files into ``.cache/site/<name>/`` via a temporary folder and a rename."""
    tarball = fetch(package)
    dest = TARGET / package.name
    TARGET.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TARGET, prefix=f".{package.name}.") as tmp:
        staging = Path(tmp) / package.name
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                rel = _kept(member.name, package)
                if rel is None or not member.isfile():
                    continue
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        (staging / package.marker.name).write_text(f"{package.url}\n{package.sha256}\n")
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return dest


def installed(package: Package) -> bool:
    return package.marker.exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the assets are installed")
    args = parser.parse_args(argv)
    if installed(MATHJAX):
        return 0
    if args.check:
        print(f"MathJax {MATHJAX.version} is not installed in {MATHJAX.marker.parent}: "
              "run `make setup` (or `python scripts/site_assets.py`) once with network.", file=sys.stderr)
        return 1
    print(f"installed {install(MATHJAX)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
