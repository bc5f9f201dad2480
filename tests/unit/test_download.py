"""Download path without network: verification, atomic install, and the no-network message."""

import zipfile
from pathlib import Path

import pytest
import requests

from recrl_core.data import checksums, download, files


def _toy(tmp_path: Path) -> tuple[checksums.Dataset, Path]:
    """A two-file dataset and a zip of it laid out like the official archives (a top folder)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_text("x,y\n1,2\n")
    (src / "README.txt").write_text("toy\n")
    dataset = checksums.Dataset(name="toy", url="https://example.invalid/toy.zip",
                                sha256={n: files.sha256(src / n) for n in ("a.csv", "README.txt")})
    archive = tmp_path / "toy.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("a.csv", "README.txt"):
            zf.write(src / name, f"toy/{name}")
        zf.writestr("toy/extra-unverified.dat", "ignored")
    return dataset, archive


def test_install_extracts_only_verified_files(tmp_path):
    dataset, archive = _toy(tmp_path)
    data_dir = tmp_path / "data"
    folder = download.install(dataset, data_dir, archive)
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "a.csv"]
    assert checksums.verify(dataset, data_dir) == []
    assert [p.name for p in data_dir.iterdir()] == ["toy"]          # no staging leftovers


def test_install_refuses_a_corrupt_archive_and_keeps_the_old_copy(tmp_path):
    dataset, archive = _toy(tmp_path)
    data_dir = tmp_path / "data"
    download.install(dataset, data_dir, archive)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("toy/a.csv", "x,y\n1,3\n")                      # one byte differs
        zf.writestr("toy/README.txt", "toy\n")
    with pytest.raises(checksums.ChecksumError, match="a.csv: SHA-256"):
        download.install(dataset, data_dir, bad)
    assert (data_dir / "toy" / "a.csv").read_text() == "x,y\n1,2\n"
    assert [p.name for p in data_dir.iterdir()] == ["toy"]


def test_truncated_zip_is_a_download_error(tmp_path):
    dataset, archive = _toy(tmp_path)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(download.DownloadError, match="not a valid zip"):
        download.install(dataset, tmp_path / "data", cut)


def test_no_network_gives_a_clear_message(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(requests, "get", offline)
    monkeypatch.setenv("RECRL_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(download.DownloadError, match="RECRL_DATA_DIR"):
        download.fetch_zip("https://example.invalid/x.zip", tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
    assert download.main(["ml-latest-small", "--ensure"]) == 2
    err = capsys.readouterr().err
    assert "could not download" in err and "RECRL_DATA_DIR is" in err


def test_ensure_skips_download_when_copy_is_intact(tmp_path, monkeypatch):
    dataset, archive = _toy(tmp_path)
    data_dir = tmp_path / "data"
    download.install(dataset, data_dir, archive)
    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("must not download"))
    assert download.ensure(dataset, data_dir) == data_dir / "toy"
