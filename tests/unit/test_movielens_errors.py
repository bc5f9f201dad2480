"""MovieLens loaders on hand-written files: the rating scale and the catalogue are checked.

The fixture copies the official headers: ``movies.csv`` lists movies 1, 2 and 3;
``ratings.csv`` and ``tags.csv`` rate and tag only those, except where a test
writes a bad line on purpose. Line numbers count the header as line 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recrl_core.data import files, movielens

pytestmark = pytest.mark.filterwarnings("ignore:.*SHA-256")   # hand-made files are not the release

MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
3,Grumpier Old Men (1995),Comedy|Romance
"""
RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,3,0.5,964981247
2,2,5.0,964982224
"""
TAGS = """userId,movieId,tag,timestamp
2,1,Pixar,1445714994
2,1,fun,1445714996
"""
ALL_STARS = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


def _write(root: Path, ratings: str = RATINGS, tags: str = TAGS, movies: str = MOVIES) -> Path:
    folder = root / "ml-latest-small"
    folder.mkdir(exist_ok=True)
    for name, body in (("ratings.csv", ratings), ("tags.csv", tags), ("movies.csv", movies)):
        (folder / name).write_text(body)
    return root


def test_every_half_star_loads(tmp_path):
    body = "userId,movieId,rating,timestamp\n" + "".join(f"1,2,{s},{100 + i}\n" for i, s in enumerate(ALL_STARS))
    ratings = movielens.load_ratings(_write(tmp_path, ratings=body))
    assert ratings["value"].tolist() == ALL_STARS


@pytest.mark.parametrize(("bad", "line"), [("7.5", 3), ("-1", 3), ("4.25", 3), ("0.0", 3)])
def test_rating_off_the_scale_names_file_line_and_remedy(tmp_path, bad, line):
    body = RATINGS.replace("1,3,0.5,", f"1,3,{bad},")
    with pytest.raises(ValueError) as err:
        movielens.load_ratings(_write(tmp_path, ratings=body))
    message = str(err.value)
    assert "ratings.csv: column 'rating' must hold a half-star rating 0.5, 1.0, ..., 5.0" in message
    assert f"line {line} has {float(bad)!r} (1 such line(s))" in message
    assert message.endswith(files.REMEDY)


def test_rated_movie_missing_from_movies_csv_names_line_and_id(tmp_path):
    body = RATINGS + "3,99,3.0,964982300\n"
    with pytest.raises(ValueError, match=r"ratings\.csv: column 'movieId' must hold a movieId listed in "
                                         r".*movies\.csv; line 5 has 99 \(1 such line\(s\)\)\. Re-download"):
        movielens.load_ratings(_write(tmp_path, ratings=body))


def test_ratings_need_the_catalogue(tmp_path):
    _write(tmp_path)
    (tmp_path / "ml-latest-small" / "movies.csv").unlink()
    with pytest.raises(FileNotFoundError, match="movies.csv"):
        movielens.load_ratings(tmp_path)


def test_tagged_movie_missing_from_movies_csv_is_an_error(tmp_path):
    # The official tags.csv tags only catalogue movies, so a stray id means a damaged copy.
    _write(tmp_path, tags=TAGS + "3,42,boring,1445715000\n")
    with pytest.raises(ValueError, match=r"tags\.csv: column 'movieId' must hold a movieId listed in "
                                         r".*movies\.csv; line 4 has 42"):
        movielens.load_tags(tmp_path)
    with pytest.raises(ValueError, match=r"tags\.csv: .* line 4 has 42"):
        movielens.item_text(tmp_path)


def test_valid_fixture_loads_and_describes_movies(tmp_path):
    _write(tmp_path)
    ratings = movielens.load_ratings(tmp_path)
    assert ratings[["user", "item"]].values.tolist() == [[1, 1], [1, 3], [2, 2]]
    text = movielens.item_text(tmp_path).set_index("item")["text"]
    assert text[1] == ("Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy. "
                       "Tags: fun, pixar.")
