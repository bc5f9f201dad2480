"""Fetch the official dataset zips, verify every file, and install them atomically.

Readers with network run ``python -m recrl_core.data.download`` (all datasets)
or name some (``ml-latest-small``, ``hetrec2011-lastfm-2k``). ``--ensure`` only
downloads what is missing or corrupt. Notebooks and tests never download.

Without network and without a local copy the command stops with a message
that names ``RECRL_DATA_DIR``, the variable that points at a local copy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from recrl_core import config
from recrl_core.data import checksums, files


class DownloadError(RuntimeError):
    """The dataset could not be fetched (no network, HTTP error, bad archive)."""


def fetch_zip(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Stream ``url`` into ``target`` via a temporary file (never a half-written zip)."""
    import requests

    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            with files.atomic_path(target) as tmp, open(tmp, "wb") as handle:
                for block in response.iter_content(chunk_size=1 << 20):
                    handle.write(block)
    except requests.RequestException as err:
        raise DownloadError(
            f"could not download {url} ({type(err).__name__}: {err}). Without network, copy the "
            f"dataset folder by hand and set RECRL_DATA_DIR to the folder that contains it.") from err
    return target


def install(dataset: checksums.Dataset, data_dir: Path, zip_path: Path) -> Path:
    """Extract the files of ``dataset`` from ``zip_path``, verify each, then move the folder in place.

    Extraction happens in a temporary folder beside the destination; the
    destination is replaced only when every listed file verified.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=f".{dataset.name}.") as tmp:
        staging = Path(tmp) / dataset.name
        staging.mkdir()
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in archive.namelist():
                    name = Path(member).name
                    if name in dataset.sha256:       # only the files we know and can verify
                        with archive.open(member) as src, open(staging / name, "wb") as dst:
                            shutil.copyfileobj(src, dst)
        except zipfile.BadZipFile as err:
            raise DownloadError(f"{zip_path} is not a valid zip archive ({err})") from err
        problems = checksums.verify(dataset, Path(tmp))
        if problems:
            raise checksums.ChecksumError(f"{dataset.name}: downloaded files failed verification: "
                                          + "; ".join(problems))
        final = data_dir / dataset.name
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    return final


def ensure(dataset: checksums.Dataset, data_dir: Path, *, force: bool = False) -> Path:
    """Download and install ``dataset`` unless an intact copy is already in ``data_dir``."""
    if not force and not checksums.verify(dataset, data_dir):
        return data_dir / dataset.name
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = fetch_zip(dataset.url, Path(tmp) / f"{dataset.name}.zip")
        return install(dataset, data_dir, zip_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=sorted(checksums.DATASETS),
                        help="datasets to fetch (default: all)")
    parser.add_argument("--ensure", action="store_true",
                        help="only fetch datasets that are missing or fail verification")
    args = parser.parse_args(argv)
    data_dir = config.data_dir()
    for name in args.names:
        if name not in checksums.DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {sorted(checksums.DATASETS)}")
        dataset = checksums.DATASETS[name]
        problems = checksums.verify(dataset, data_dir)
        if args.ensure and not problems:
            print(f"{name}: present and verified in {data_dir / name}")
            continue
        print(f"{name}: fetching {dataset.url} -> {data_dir / name}"
              + (f"  ({problems[0]}{' ...' if len(problems) > 1 else ''})" if problems else ""))
        try:
            ensure(dataset, data_dir, force=not args.ensure)
        except (DownloadError, checksums.ChecksumError) as err:
            print(f"error: {err}\nRECRL_DATA_DIR is {data_dir}: point it at a folder holding "
                  f"'{name}/' (for example a copy made on a machine with network).", file=sys.stderr)
            return 2
        print(f"{name}: installed and verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
