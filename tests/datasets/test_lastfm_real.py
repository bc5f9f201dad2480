"""The Last.fm loader on the real HetRec 2011 files (numbers measured from the provided copy)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recrl_core.data import interactions, lastfm

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def lastfm_dir(real_data_dir: Path) -> Path:
    """RECRL_DATA_DIR holding the Last.fm folder; skip if it is missing, fail under CI=true."""
    folder = real_data_dir / lastfm.FOLDER
    if not folder.is_dir() and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{folder} is missing; CI must run the data tests")
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return real_data_dir


@pytest.fixture(scope="module")
def tagged(lastfm_dir: Path) -> pd.DataFrame:
    return lastfm.load_interactions(lastfm_dir)


def test_tagged_pair_counts(tagged):
    # The raw files hold 71,064 tagged (user, artist) pairs (spec-lastfm). Dropping the
    # 5 rows with years 1956/1957/1979 removes 2 pairs whose only tags were those rows
    # ((133, 2984) and (1929, 250)); 2 more pairs move to their earliest *valid* date.
    assert len(tagged) == 71_062
    assert tagged["user"].nunique() == 1_892
    assert tagged["item"].nunique() == 12_523
    per_user = tagged.groupby("user").size()
    assert per_user.median() == 8
    assert (per_user >= 5).sum() == 1_222


def test_invalid_years_dropped(tagged):
    # 2005-08-01 and 2011-05-09, UTC midnight.
    assert tagged["time"].min() == 1_122_854_400
    assert tagged["time"].max() == 1_304_899_200
    assert not ((tagged["user"] == 133) & (tagged["item"] == 2984)).any()


def test_listened_only(lastfm_dir, tagged):
    # 20,665 tagged pairs are also listened in the raw files; one of them, (1929, 250),
    # is tagged only on an invalid date, leaving 20,664.
    listened = lastfm.load_interactions(lastfm_dir, listened_only=True)
    assert len(listened) == 20_664
    assert listened["user"].nunique() == 1_824
    assert (listened["value"] > 0).all()
    assert (tagged["value"] > 0).sum() == 20_664  # the rest are tagged-never-listened (0.0)


def test_schema_and_sequence_order(tagged):
    pd.testing.assert_frame_equal(tagged, interactions.validate(tagged, "lastfm"))
    assert (tagged["event"] == "tag").all()
    assert not tagged.duplicated(["user", "item"]).any()
    pd.testing.assert_frame_equal(tagged, lastfm.sequence_order(tagged.sample(frac=1, random_state=0)))
    # Within a user and a date, play counts never rise.
    same_group = (tagged["user"].diff() == 0) & (tagged["time"].diff() == 0)
    assert (tagged["value"].diff()[same_group] <= 0).all()
    # User 2's first date (2009-04-01) holds artists 52, 63, 73, ... by play count.
    first = tagged.head(3)
    assert first["item"].tolist() == [52, 63, 73]
    np.testing.assert_array_equal(first["value"], [11690.0, 3735.0, 2584.0])


def test_item_text(lastfm_dir):
    text = lastfm.item_text(lastfm_dir).set_index("item")
    assert len(text) == 17_632
    assert (text["tags"].str.len() == 0).sum() == 5_499
    assert text.loc[289, "text"] == ("Britney Spears — tags: pop, dance, female vocalists, "
                                     "legend, britney spears")


def test_unknown_artists_are_counted_kept_by_default_and_droppable(lastfm_dir, tagged):
    # 767 tagged pairs (390 artist ids) are not in artists.dat; 125 of them survive a 5-core.
    known = lastfm.load_artists(lastfm_dir)["item"]
    unknown = ~tagged["item"].isin(known)
    assert (int(unknown.sum()), tagged.loc[unknown, "item"].nunique()) == (767, 390)
    assert int((~interactions.k_core(tagged, 5)["item"].isin(known)).sum()) == 125
    with pytest.warns(UserWarning, match=r"767 tagged \(user, artist\) pairs name 390 artist ids"):
        lastfm.load_interactions(lastfm_dir)
    dropped = lastfm.load_interactions(lastfm_dir, unknown_artists="drop")
    pd.testing.assert_frame_equal(dropped, tagged[~unknown].reset_index(drop=True))


def test_dropped_unknown_artists_go_through_prepare_events(lastfm_dir):
    from recrl_core.data import prepare

    dropped = lastfm.load_interactions(lastfm_dir, unknown_artists="drop")
    p = prepare.prepare_events(dropped, prepare.DataConfig(dataset=lastfm.DATASET, min_core=5))
    assert np.isin(p.encoded.items, lastfm.load_artists(lastfm_dir)["item"]).all()
    assert p.num_items == 3_646 - 22        # the 5-core's 22 unknown artists are gone, nothing else
