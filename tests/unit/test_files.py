"""Clear errors for malformed files; atomic writes leave nothing half-written."""

from pathlib import Path

import pytest

from recrl_core.data import files, movielens


def _write_ratings(folder: Path, body: str) -> Path:
    """ratings.csv with ``body``, and a movies.csv listing movie 2 (load_ratings checks the catalogue)."""
    path = folder / "ml-latest-small" / "ratings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    (path.parent / "movies.csv").write_text("movieId,title,genres\n2,Jumanji (1995),Adventure|Fantasy\n")
    return path


pytestmark = pytest.mark.filterwarnings("ignore:.*SHA-256")   # hand-made files are not the release


def test_missing_file_names_the_variable_and_remedy(tmp_path):
    with pytest.raises(FileNotFoundError, match="RECRL_DATA_DIR.*recrl_core.data.download ml-latest-small"):
        movielens.load_ratings(tmp_path)


def test_missing_column_is_named(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,stars,timestamp\n1,2,4.0,100\n")
    with pytest.raises(ValueError, match=r"ratings.csv: missing column\(s\) \['rating'\]"):
        movielens.load_ratings(tmp_path)


def test_non_numeric_id_names_file_column_and_line(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,100\n1,abc,3.0,101\n")
    with pytest.raises(ValueError, match=r"ratings.csv: column 'movieId' must hold a whole number; line 3 has 'abc'"):
        movielens.load_ratings(tmp_path)


def test_fractional_timestamp_is_rejected(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,100.5\n")
    with pytest.raises(ValueError, match="'timestamp' must hold a whole number; line 2"):
        movielens.load_ratings(tmp_path)


def test_missing_rating_is_rejected(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,rating,timestamp\n1,2,,100\n")
    with pytest.raises(ValueError, match="'rating' must hold a number; line 2 has ''"):
        movielens.load_ratings(tmp_path)


def test_blank_line_fails_at_its_own_line_number(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,100\n\n1,2,3.0,101\n")
    with pytest.raises(ValueError, match=r"ratings.csv: column '\w+' must hold .*; line 3 has ''"):
        movielens.load_ratings(tmp_path)


def test_empty_file_says_a_header_is_expected(tmp_path):
    _write_ratings(tmp_path, "")
    with pytest.raises(ValueError, match=r"ratings.csv: the file is empty; expected a header .*Re-download"):
        movielens.load_ratings(tmp_path)


def test_check_rows_names_file_column_first_line_count_and_remedy(tmp_path):
    import numpy as np
    import pandas as pd

    values = pd.Series(np.array([1.0, 7.0, 8.0]))
    files.check_rows(tmp_path / "f.csv", "x", values, values < 9, "a number below 9")     # all fine
    with pytest.raises(ValueError, match=r"f\.csv: column 'x' must hold a number below 5; line 3 has 7\.0 "
                                         r"\(2 such line\(s\)\)\. Fix it\.$"):
        files.check_rows(tmp_path / "f.csv", "x", values, values < 5, "a number below 5", remedy="Fix it.")


def test_checksum_mismatch_warns_by_default_and_fails_when_strict(tmp_path):
    _write_ratings(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,100\n")
    with pytest.warns(UserWarning, match="does not match the expected"):
        movielens.load_ratings(tmp_path)
    from recrl_core.data.checksums import ChecksumError

    with pytest.raises(ChecksumError, match="re-download"):
        movielens.load_ratings(tmp_path, strict=True)


def test_atomic_path_leaves_no_partial_file_on_error(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with files.atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_sha256_of_known_bytes(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert files.sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    from recrl_core.data.files import atomic_dir

    target = tmp_path / "model"
    with atomic_dir(target) as staging:
        (staging / "a.txt").write_text("v1")
    assert (target / "a.txt").read_text() == "v1"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as staging:
            (staging / "a.txt").write_text("half")
            raise RuntimeError("crash while writing")
    assert (target / "a.txt").read_text() == "v1"                       # the old folder survives
    assert [p.name for p in tmp_path.iterdir()] == ["model"]            # no staging folder left
