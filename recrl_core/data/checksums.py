"""SHA-256 of every supported data file, and where the official copies live.

The values are those of the copies the book was built and tested with
(ml-latest-small generated 26 Sep 2018; HetRec 2011 Last.fm-2k v1.0).
GroupLens calls ml-latest-small a *development* dataset that may change, so a
mismatch there is reported, not silently accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recrl_core.data import files


@dataclass(frozen=True)
class Dataset:
    name: str                  # folder name under the data directory
    url: str                   # official zip
    sha256: dict[str, str]     # file name -> hex digest


MOVIELENS = Dataset(
    name="ml-latest-small",
    url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    sha256={
        "README.txt": "caa1eb1d1d113578e9dbb36b37398404e00f379492b7aa31df0b30c855017095",
        "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    },
)

LASTFM = Dataset(
    name="hetrec2011-lastfm-2k",
    url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
    sha256={
        "artists.dat": "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
        "readme.txt": "44c38757b3a24e68e844ac60c97ba7fd8e0f691cf1b00e9cf6bd8854df0dd64a",
        "tags.dat": "c815d7216101fd0ba9b9c59fa2a011998d2fd076e0064d281ec4153d95ae8095",
        "user_artists.dat": "254272fa721c3935e8be286d28c051b206844307128698ab4eaa41d483379416",
        "user_friends.dat": "0360883a3557776e04fdebda851f2e5dd23e796cad7059b968acdebd528d13fa",
        "user_taggedartists.dat": "c4a9ffae9ab47a9f9b2f0678ab1f7e5c1db4ca818837d8cddd1f5699c5bbf048",
    },
)

DATASETS = {d.name: d for d in (MOVIELENS, LASTFM)}


class ChecksumError(ValueError):
    """A data file exists but its SHA-256 is not the expected one."""


def verify(dataset: Dataset, data_dir: Path) -> list[str]:
    """Check every file of ``dataset`` under ``data_dir``.

    Returns:
        a list of problems (missing files, mismatching digests); empty when all is well.
    """
    folder = data_dir / dataset.name
    problems = []
    for name, expected in dataset.sha256.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"missing {path}")
        elif (actual := files.sha256(path)) != expected:
            problems.append(f"{path}: SHA-256 {actual[:12]}... differs from the expected {expected[:12]}...")
    return problems


def check_file(path: Path, dataset: Dataset, *, strict: bool) -> None:
    """Verify one file; raise :class:`ChecksumError` if ``strict``, else warn.

    Tests run strict; notebooks warn, because GroupLens may update ml-latest-small.
    """
    expected = dataset.sha256[path.name]
    actual = files.sha256(path)
    if actual == expected:
        return
    message = (f"{path}: SHA-256 {actual} does not match the expected {expected}. The file is "
               f"corrupt, truncated or a different release of {dataset.name}; re-download it with "
               f"`python -m recrl_core.data.download {dataset.name}`.")
    if strict:
        raise ChecksumError(message)
    import warnings

    warnings.warn(message, stacklevel=3)
