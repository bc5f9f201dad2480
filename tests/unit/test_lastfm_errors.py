"""Last.fm loader on tiny hand-written files: ordering, date rules, text, and error messages.

The fixture (written into tmp_path by ``data_dir``):

- user 1 tagged artist 10 in 2009-03 and 2009-02 (earliest: 2009-02-01),
  artists 20 and 30 in 2009-02, artist 40 only in "1956" (invalid: dropped),
  artist 50 in "1957" (invalid) and 2010-07 (kept at 2010-07-01).
- user 2 tagged artist 10 on 2008-05-15.
- play counts: (1,10)=100, (1,20)=500, (1,30)=500, (1,99)=7 (listened, never
  tagged: not an event), (2,10)=3; (1,50) was never listened: value 0.
- so user 1's 2009-02-01 tie is ordered 20, 30 (500 plays each, lower id first),
  then 10 (100 plays): play count beats artist id.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recrl_core.data import interactions, lastfm

# The hand-written files are not the released ones: their checksum warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:.*SHA-256")

FEB_2009, JUL_2010, MAY_15_2008 = 1233446400, 1277942400, 1210809600  # calendar.timegm

TAGGED = """userID\tartistID\ttagID\tday\tmonth\tyear
1\t10\t1\t1\t3\t2009
1\t10\t2\t1\t2\t2009
1\t20\t1\t1\t2\t2009
1\t30\t3\t1\t2\t2009
1\t40\t1\t1\t1\t1956
1\t50\t2\t1\t6\t1957
1\t50\t1\t1\t7\t2010
2\t10\t1\t15\t5\t2008
"""
PLAYS = """userID\tartistID\tweight
1\t10\t100
1\t20\t500
1\t30\t500
1\t99\t7
2\t10\t3
"""
ARTISTS = """id\tname\turl\tpictureURL
10\tAlpha Band\thttp://x/10\t
20\tBeta\thttp://x/20\t
30\tGamma\thttp://x/30\t
50\tEpsilon\thttp://x/50\t
60\tNo Tags\thttp://x/60\t
"""
TAGS = "tagID\ttagValue\n1\trock\n2\tindie\n3\tcafé pop\n"  # written as Latin-1


def _write(folder: Path, tagged: str = TAGGED, plays: str = PLAYS) -> None:
    (folder / "user_taggedartists.dat").write_text(tagged, encoding="ascii")
    (folder / "user_artists.dat").write_text(plays, encoding="ascii")
    (folder / "artists.dat").write_text(ARTISTS, encoding="utf-8")
    (folder / "tags.dat").write_bytes(TAGS.encode("latin-1"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "hetrec2011-lastfm-2k"
    folder.mkdir()
    _write(folder)
    return tmp_path


def test_pairs_at_earliest_valid_date_in_sequence_order(data_dir):
    frame = lastfm.load_interactions(data_dir)
    expected = pd.DataFrame({
        "user": [1, 1, 1, 1, 2],
        "item": [20, 30, 10, 50, 10],
        "time": [FEB_2009, FEB_2009, FEB_2009, JUL_2010, MAY_15_2008],
        "value": [500.0, 500.0, 100.0, 0.0, 3.0],
        "event": ["tag"] * 5,
    })
    pd.testing.assert_frame_equal(frame, interactions.validate(expected, "expected"))


def test_listened_only_keeps_tagged_and_listened(data_dir):
    frame = lastfm.load_interactions(data_dir, listened_only=True)
    assert list(zip(frame["user"], frame["item"])) == [(1, 20), (1, 30), (1, 10), (2, 10)]
    assert (frame["value"] > 0).all()


def test_sequence_order_differs_from_plain_chronological_sort(data_dir):
    frame = lastfm.load_interactions(data_dir)
    plain = interactions.sort_chronologically(frame)
    assert plain["item"].tolist()[:3] == [10, 20, 30]  # item id only: loses the play-count order
    pd.testing.assert_frame_equal(lastfm.sequence_order(plain), frame)


def test_item_text_top_tags_with_ties_by_name(data_dir):
    text = lastfm.item_text(data_dir, top_tags=2).set_index("item")
    assert text.index.tolist() == [10, 20, 30, 50, 60]
    assert text.loc[10, "tags"] == ["rock", "indie"]    # rock twice, indie once
    assert text.loc[50, "tags"] == ["indie", "rock"]    # once each: alphabetical
    assert text.loc[30, "text"] == "Gamma — tags: café pop"  # Latin-1 decoded
    assert text.loc[60, "tags"] == [] and text.loc[60, "text"] == "No Tags"
    assert lastfm.item_text(data_dir, top_tags=1).set_index("item").loc[10, "tags"] == ["rock"]


def test_load_artists(data_dir):
    artists = lastfm.load_artists(data_dir)
    assert artists.columns.tolist() == ["item", "name"]
    assert artists["name"].tolist()[:2] == ["Alpha Band", "Beta"]


def test_malformed_play_count_names_file_column_and_line(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", plays=PLAYS.replace("1\t30\t500", "1\t30\t5o0"))
    with pytest.raises(ValueError, match=r"user_artists\.dat: column 'weight' .* line 4 has '5o0'"):
        lastfm.load_interactions(data_dir)


def test_malformed_year_names_file_column_and_line(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", tagged=TAGGED.replace("7\t2010", "7\t20l0"))
    with pytest.raises(ValueError, match=r"user_taggedartists\.dat: column 'year' .* line 8"):
        lastfm.load_interactions(data_dir)


def test_impossible_date_names_file_and_line(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", tagged=TAGGED.replace("1\t3\t2009", "1\t13\t2009"))
    with pytest.raises(ValueError, match=r"user_taggedartists\.dat: line 2 has an impossible date"):
        lastfm.load_interactions(data_dir)


def test_missing_column_is_named(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", plays=PLAYS.replace("weight", "plays"))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['weight'\]"):
        lastfm.load_interactions(data_dir)


def test_missing_file_mentions_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="RECRL_DATA_DIR"):
        lastfm.load_interactions(tmp_path)


def test_negative_play_count_names_file_and_line(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", plays=PLAYS.replace("1\t20\t500", "1\t20\t-500"))
    with pytest.raises(ValueError, match=r"user_artists\.dat: column 'weight' must hold a play count >= 0; "
                                         r"line 3 has -500 \(1 such line\(s\)\)\. Re-download"):
        lastfm.load_interactions(data_dir)


# Artists 70 (tagged by users 1 and 2) and 80 (user 2) are not in artists.dat: 3 pairs, 2 artists.
UNKNOWN = "1\t70\t1\t1\t6\t2009\n2\t70\t2\t1\t6\t2009\n2\t80\t1\t1\t6\t2009\n"


def _artist_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "not in artists.dat" in str(w.message)]


def test_unknown_artists_are_kept_with_one_counting_warning_unless_the_caller_chose(data_dir):
    _write(data_dir / "hetrec2011-lastfm-2k", tagged=TAGGED + UNKNOWN)
    with pytest.warns(UserWarning) as caught:
        frame = lastfm.load_interactions(data_dir)
    (message,) = _artist_warnings(caught)
    assert message.startswith("hetrec2011-lastfm-2k: 3 tagged (user, artist) pairs name 2 artist ids "
                              "that are not in artists.dat; they are kept as items without a name")
    assert "unknown_artists='drop'" in message and "unknown_artists='keep'" in message
    assert sorted(frame.loc[frame["item"] >= 70, ["user", "item"]].values.tolist()) == [[1, 70], [2, 70], [2, 80]]
    assert (frame.loc[frame["item"] >= 70, "value"] == 0.0).all()       # never listened
    assert len(frame) == 5 + 3
    import warnings

    with warnings.catch_warnings(record=True) as chosen:
        warnings.simplefilter("always")
        kept = lastfm.load_interactions(data_dir, unknown_artists="keep")
    assert _artist_warnings(chosen) == []                                  # an explicit choice is not warned about
    pd.testing.assert_frame_equal(kept, frame)


def test_unknown_artists_drop_removes_exactly_those_pairs_quietly(data_dir):
    import warnings

    _write(data_dir / "hetrec2011-lastfm-2k", tagged=TAGGED + UNKNOWN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dropped = lastfm.load_interactions(data_dir, unknown_artists="drop")
        kept = lastfm.load_interactions(data_dir)
    assert len(_artist_warnings(caught)) == 1                              # from the "keep" call only
    expected = kept[kept["item"] < 70].reset_index(drop=True)
    pd.testing.assert_frame_equal(dropped, expected)


def test_no_warning_when_every_artist_is_known(data_dir):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lastfm.load_interactions(data_dir)
    assert _artist_warnings(caught) == []


def test_unknown_artists_keyword_is_checked_first(tmp_path):
    with pytest.raises(ValueError, match=r"unknown_artists='skip'; choose from \('keep', 'drop'\)"):
        lastfm.load_interactions(tmp_path, unknown_artists="skip")    # before any file is read
