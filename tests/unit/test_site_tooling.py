"""The website's tooling without a browser: the book's URL in one place, the local MathJax, the Sphinx fixes."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]


# --- one repository URL -------------------------------------------------------------------------

@pytest.fixture
def fork(tmp_path, script):
    """A copy of the files scripts/repository.py generates, with the module pointed at it."""
    repo = script("repository")
    for rel in ["_config.yml", "pyproject.toml", "book/for_instructors.md", *[
            str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("ch*/*.ipynb")]]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    old = repo.ROOT
    repo.ROOT = tmp_path
    yield repo, tmp_path
    repo.ROOT = old


def test_the_committed_links_name_the_configured_repository(script):
    repo = script("repository")
    assert repo.disagreements() == []
    assert repo.install_source() == "git+https://github.com/recrl-book/recrl-book@v0.1.0"
    notebooks = [p for p in repo.targets() if p.suffix == ".ipynb"]
    assert len(notebooks) >= 30                          # every chapter notebook has its Colab install cell


def test_changing_the_url_once_is_caught_and_rewritten_everywhere(fork):
    repo, root = fork
    config = root / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/recrl-book/recrl-book",
                                                 "https://github.com/someone/fork"))
    stale = repo.disagreements()
    assert len(stale) >= 31 and all("someone/fork" in line for line in stale)   # every notebook + the instructors page
    changed = repo.write()
    assert len(changed) == len(stale) - 5               # the instructors page holds six links in one file
    assert repo.disagreements() == []
    text = (root / "book/ch04_sqn/01_recommendation_as_mdp.ipynb").read_text()
    assert "git+https://github.com/someone/fork@v0.1.0" in text and "recrl-book/recrl-book" not in text
    assert "colab.research.google.com/github/someone/fork/blob/main/assignments/" in (root / "book/for_instructors.md").read_text()


def test_a_url_that_is_not_a_github_repository_is_refused(fork):
    repo, root = fork
    config = root / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/recrl-book/recrl-book", "https://example.org/x"))
    with pytest.raises(SystemExit, match="repository.url"):
        repo.repository()


# --- MathJax installed from a verified tarball --------------------------------------------------

def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def assets(tmp_path, script, monkeypatch):
    mod = script("site_assets")
    monkeypatch.setattr(mod, "TARGET", tmp_path / "site")
    monkeypatch.setenv("RECRL_CACHE_HOME", str(tmp_path / "cache"))
    data = _tarball({"package/es5/tex-mml-chtml.js": b"mathjax()", "package/es5/ui/menu.js": b"menu()",
                     "package/es5/mml-svg.js": b"not kept", "package/README.md": b"not kept"})
    (tmp_path / "cache" / "downloads").mkdir(parents=True)
    (tmp_path / "cache" / "downloads" / "fake-1.0.tgz").write_bytes(data)
    pkg = mod.Package(name="fake", version="1.0", sha256=hashlib.sha256(data).hexdigest(),
                      prefix="package/es5/", keep=("tex-mml-chtml.js", "ui"))
    return mod, pkg, tmp_path


def test_only_the_kept_files_are_installed_and_the_marker_comes_last(assets):
    mod, pkg, tmp = assets
    assert not mod.installed(pkg)
    dest = mod.install(pkg)                                  # the cached tarball: no network
    got = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert got == [".fake-1.0", "tex-mml-chtml.js", "ui/menu.js"]
    assert mod.installed(pkg)
    assert [p.name for p in (tmp / "site").iterdir()] == ["fake"]      # no staging folder left behind


def test_a_tarball_that_fails_its_checksum_is_removed_and_nothing_installed(assets, monkeypatch):
    mod, pkg, tmp = assets
    from recrl_core.data import download
    monkeypatch.setattr(download, "fetch_zip", lambda url, target: target.write_bytes(b"tampered") or target)
    (tmp / "cache" / "downloads" / "fake-1.0.tgz").write_bytes(b"corrupt")
    with pytest.raises(SystemExit, match="SHA-256"):
        mod.install(pkg)
    assert not (tmp / "cache" / "downloads" / "fake-1.0.tgz").exists()
    assert not mod.installed(pkg) and not (tmp / "site" / "fake").exists()


def test_the_pinned_mathjax_is_a_verified_npm_tarball(script):
    mod = script("site_assets")
    assert mod.MATHJAX.url == "https://registry.npmjs.org/mathjax/-/mathjax-3.2.2.tgz"
    assert len(mod.MATHJAX.sha256) == 64 and "tex-mml-chtml.js" in mod.MATHJAX.keep


# --- the Sphinx extension -----------------------------------------------------------------------

@pytest.fixture
def ext():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import recrl_site
    yield recrl_site
    sys.path.remove(str(ROOT / "book" / "_ext"))


def test_a_build_without_the_local_mathjax_stops_and_names_the_remedy(ext, tmp_path):
    from sphinx.errors import ConfigError

    app = SimpleNamespace(confdir=str(tmp_path), config=SimpleNamespace(
        mathjax_path="mathjax/tex-mml-chtml.js", html_static_path=[".cache/site"]))
    with pytest.raises(ConfigError, match="make setup"):
        ext.check_mathjax(app)
    (tmp_path / ".cache/site/mathjax").mkdir(parents=True)
    (tmp_path / ".cache/site/mathjax/tex-mml-chtml.js").write_text("")
    ext.check_mathjax(app)                                                  # present: no error
    app.config.mathjax_path = "https://cdn.example/mathjax.js"
    ext.check_mathjax(app)                                                  # a CDN is not checked here


def test_inline_scripts_registered_twice_are_emitted_once(ext):
    from sphinx.builders.html._assets import _JavaScript

    thebe = dict(body="const THEBE_JS_URL = 'x'")
    scripts = [_JavaScript("doctools.js", priority=200), _JavaScript(None, priority=500, **thebe),
               _JavaScript("", priority=500, **thebe), _JavaScript("doctools.js", priority=200)]
    context = {"script_files": scripts}
    ext.dedupe_scripts(None, "page", "page.html", context, None)
    assert [(js.filename, js.attributes.get("body")) for js in context["script_files"]] == [
        ("doctools.js", None), (None, thebe["body"])]
