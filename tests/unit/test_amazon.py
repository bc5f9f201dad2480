"""Amazon Books loader on a hand-written fixture (tests/data/amazon-books/*.jsonl).

Hand derivation of the expected result with genres=("Fantasy", "Romance"), core=2:

- Genre books: B01 (Fantasy), B02 (Romance), B03 ("fantasy", lower case),
  B04 (Romance), B08 (Fantasy). Dropped: B05 Cookbooks, B06 and B07 (the genre
  word is only in the title), B09 (no category), B10 (no metadata at all).
  B01's second metadata line (category Romance, other title) is ignored.
- Genre reviews, one per (user, book), earliest kept (UC's second B02 review,
  rating 1.0, is a later duplicate): UA: B01 B02 B03; UB: B01 B04; UC: B02 B04;
  UD: B03 B08; UE: B01.
- 2-core, round 1: UE (1 review) and B08 (1 review) go. Round 2: UD is left
  with B03 only and goes. Round 3: B03 is left with UA only and goes.
- Result: UA: B02 (t=1420070400, 4.0), B01 (1420156800, 5.0);
  UB: B01 (1451606400, 4.0), B04 (1451692800, 5.0);
  UC: B04 (1483228800, 4.0), B02 (1483315200, 3.0).
  Ids by sorted string: UA=0, UB=1, UC=2; B01=0, B02=1, B04=2.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from recrl_core.data import amazon, interactions

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "amazon-books"


def _gzip_to(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder with the fixture gzipped under the official file names."""
    folder = tmp_path / "amazon-books"
    folder.mkdir()
    _gzip_to(FIXTURE / "Books_5.jsonl", folder / "Books_5.json.gz")
    _gzip_to(FIXTURE / "meta_Books.jsonl", folder / "meta_Books.json.gz")
    return tmp_path


def _write_lines(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_fixture_gives_hand_computed_interactions(data_dir):
    frame, items = amazon.load_interactions(data_dir, core=2)
    expected = pd.DataFrame({
        "user": [0, 0, 1, 1, 2, 2],
        "item": [1, 0, 0, 2, 2, 1],
        "time": [1420070400, 1420156800, 1451606400, 1451692800, 1483228800, 1483315200],
        "value": [4.0, 5.0, 4.0, 5.0, 4.0, 3.0],
        "event": ["review"] * 6,
    })
    pd.testing.assert_frame_equal(frame, interactions.validate(expected, "expected"))


def test_fixture_items_table(data_dir):
    _, items = amazon.load_interactions(data_dir, core=2)
    assert items["item"].tolist() == [0, 1, 2]
    assert items["asin"].tolist() == ["B01", "B02", "B04"]
    assert items["title"].tolist() == ["The Dragon's Oath", "Hearts in Winter", "Summer Vows"]
    assert items["categories"].iloc[2] == ["Books", "Romance", "Contemporary"]
    assert items["text"].tolist() == [
        "The Dragon's Oath by Ann Writer — categories: Books > Science Fiction & Fantasy > Fantasy > Epic",
        "Hearts in Winter by Bea Author — categories: Books > Literature & Fiction > Romance",
        "Summer Vows — categories: Books > Romance > Contemporary",
    ]


def test_max_users_keeps_most_active_with_ties_by_id(data_dir):
    # Genre reviews per user: UA 3, then UB, UC, UD with 2 each: the tie goes to UB.
    frame, items = amazon.load_interactions(data_dir, core=1, max_users=2)
    assert frame["user"].value_counts().sort_index().tolist() == [3, 2]
    assert items["asin"].tolist() == ["B01", "B02", "B03", "B04"]


def test_genres_are_configurable(data_dir):
    # Only "Romance": B02 (UA, UC) and B04 (UB, UC); the 1-core keeps all four reviews.
    frame, items = amazon.load_interactions(data_dir, genres=("romance",), core=1)
    assert items["asin"].tolist() == ["B02", "B04"]
    assert len(frame) == 4


def test_nothing_left_raises(data_dir):
    with pytest.raises(ValueError, match="Poetry"):
        amazon.load_interactions(data_dir, genres=("Poetry",), core=2)


def test_malformed_json_line_names_file_and_line(data_dir):
    path = data_dir / "amazon-books" / "Books_5.json.gz"
    good = '{"overall": 5.0, "reviewerID": "UA", "asin": "B01", "unixReviewTime": 1}'
    _write_lines(path, [good, good, '{"overall": 5.0, "reviewerID": "UA"'])
    with pytest.raises(ValueError, match=r"Books_5\.json\.gz: line 3 is not valid JSON"):
        amazon.load_interactions(data_dir, core=1)


def test_missing_field_names_field_file_and_line(data_dir):
    path = data_dir / "amazon-books" / "Books_5.json.gz"
    _write_lines(path, ['{"overall": 5.0, "reviewerID": "UA", "asin": "B01", "unixReviewTime": 1}',
                        '{"overall": 5.0, "reviewerID": "UA", "asin": "B02"}'])
    with pytest.raises(ValueError, match=r"Books_5\.json\.gz: line 2 has no field 'unixReviewTime'"):
        amazon.load_interactions(data_dir, core=1)


def test_metadata_without_asin_is_an_error(data_dir):
    path = data_dir / "amazon-books" / "meta_Books.json.gz"
    _write_lines(path, ['{"title": "No id", "category": ["Books", "Fantasy"]}'])
    with pytest.raises(ValueError, match=r"meta_Books\.json\.gz: line 1 has no field 'asin'"):
        amazon.load_interactions(data_dir, core=1)


def test_non_numeric_rating_is_an_error(data_dir):
    path = data_dir / "amazon-books" / "Books_5.json.gz"
    _write_lines(path, ['{"overall": "five", "reviewerID": "UA", "asin": "B01", "unixReviewTime": 1}'])
    with pytest.raises(ValueError, match=r"Books_5\.json\.gz: line 1: 'overall' must be a number"):
        amazon.load_interactions(data_dir, core=1)


def test_plain_text_instead_of_gzip_is_an_error(data_dir):
    path = data_dir / "amazon-books" / "meta_Books.json.gz"
    shutil.copyfile(FIXTURE / "meta_Books.jsonl", path)
    with pytest.raises(ValueError, match=r"meta_Books\.json\.gz: cannot be read as gzipped"):
        amazon.load_interactions(data_dir, core=1)


def test_missing_file_mentions_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="RECRL_DATA_DIR"):
        amazon.load_interactions(tmp_path)


def test_urls_name_both_files():
    assert set(amazon.URLS) == {"Books_5.json.gz", "meta_Books.json.gz"}
    assert all(url.startswith("https://jmcauley.ucsd.edu/") for url in amazon.URLS.values())


@pytest.mark.parametrize("stars", ["6.0", "0", "-1", "NaN"])
def test_rating_outside_one_to_five_stars_names_file_and_line(data_dir, stars):
    path = data_dir / "amazon-books" / "Books_5.json.gz"
    good = '{"overall": 5.0, "reviewerID": "UA", "asin": "B01", "unixReviewTime": 1}'
    _write_lines(path, [good, f'{{"overall": {stars}, "reviewerID": "UB", "asin": "B01", "unixReviewTime": 2}}'])
    with pytest.raises(ValueError, match=r"Books_5\.json\.gz: line 2: 'overall' must be a star rating "
                                         r"from 1\.0 to 5\.0, got .*Download the file again"):
        amazon.load_interactions(data_dir, core=1)


def _amazon_cfg(**overrides):
    from recrl_core.data import prepare

    return prepare.DataConfig(**{"dataset": "amazon-books", "genres": amazon.SLICE_GENRES, **overrides})


def test_prepare_routes_amazon_books_through_the_pipeline(data_dir):
    # The hand-derived 2-core of the module docstring; a 60/20/20 global-time split of its 6 times:
    # val = UB's second review (B04 after B01), test = UC's second (B02 after B04, 3 stars: a click);
    # UC's first review is also in test but has no history, so it is no evaluation event.
    from recrl_core.data import prepare

    p = prepare.prepare(_amazon_cfg(min_core=2, val_frac=0.2, test_frac=0.2), data_dir)
    frame, _ = amazon.load_interactions(data_dir, core=2)
    pd.testing.assert_frame_equal(p.encoded.frame[list(interactions.COLUMNS)], frame)
    assert p.encoded.frame["behaviour"].tolist() == ["purchase"] * 5 + ["click"]
    assert p.labels.tolist() == ["train"] * 3 + ["val", "test", "test"]
    assert (p.num_users, p.num_items) == (3, 3)
    assert (p.val.users.tolist(), p.val.target.tolist(), p.val.items[:, :2].tolist()) == ([1], [2], [[0, 3]])
    assert (p.test.users.tolist(), p.test.target.tolist(), p.test.items[:, :2].tolist()) == ([2], [1], [[2, 3]])
    assert p.test.behaviour.tolist() == ["click"]


def test_amazon_max_users_means_most_active_reviewers(data_dir):
    from recrl_core.data import prepare

    cfg = _amazon_cfg(min_core=1, max_users=2)
    events = prepare.load_events(cfg, data_dir)
    assert events["user"].value_counts().sort_index().tolist() == [3, 2]        # UA and UB
    pd.testing.assert_frame_equal(prepare.first_users(events, cfg.max_users), events)   # no-op afterwards


def test_amazon_needs_genres_and_names_the_slice(data_dir):
    from recrl_core.data import prepare

    with pytest.raises(ValueError, match=r"amazon-books is read as a genre slice.*\('Fantasy', 'Romance'\)"):
        prepare.prepare(_amazon_cfg(genres=()), data_dir)
