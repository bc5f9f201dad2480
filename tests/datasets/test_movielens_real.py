"""The real ml-latest-small copy: checksums, documented counts, and the split properties."""

import numpy as np
import pytest

from recrl_core.config import Mode
from recrl_core.data import checksums, interactions, movielens, prepare

pytestmark = pytest.mark.data


def test_checksums_match(real_data_dir):
    assert checksums.verify(checksums.MOVIELENS, real_data_dir) == []


def test_documented_counts(real_data_dir):
    ratings = movielens.load_ratings(real_data_dir, strict=True)
    movies = movielens.load_movies(real_data_dir, strict=True)
    assert len(ratings) == 100_836 and ratings["user"].nunique() == 610
    assert len(movies) == 9_742 and ratings["item"].nunique() == 9_724
    assert (ratings["value"] >= 4.0).mean() == pytest.approx(0.482, abs=0.001)
    assert ratings.duplicated(["user", "time"], keep=False).sum() == 23_228
    fr = movielens.genre_slice(ratings, movies)
    assert len(fr) == 27_435 and fr["user"].nunique() == 610
    core = interactions.k_core(fr, 5)
    assert (len(core), core["user"].nunique(), core["item"].nunique()) == (24_983, 568, 949)
    whole = interactions.k_core(ratings, 5)
    assert (len(whole), whole["user"].nunique(), whole["item"].nunique()) == (90_274, 610, 3_650)


def test_unknown_genre_is_named(real_data_dir):
    ratings = movielens.load_ratings(real_data_dir)
    with pytest.raises(ValueError, match=r"\['Romantic'\] not in movies.csv"):
        movielens.genre_slice(ratings, movielens.load_movies(real_data_dir), ("Romantic",))


def test_item_text_has_title_genres_and_tags(real_data_dir):
    text = movielens.item_text(real_data_dir).set_index("item")
    assert text.loc[1, "text"].startswith("Toy Story (1995). Genres: Adventure, Animation")
    assert len(text.loc[1, "tags"]) <= 5


def test_prepared_global_time_split_has_no_leakage(real_data_dir):
    p = prepare.prepare(prepare.DataConfig.for_mode(Mode.BOOK, genres=("Fantasy", "Romance")), real_data_dir)
    train_end = p.train["time"].max()
    assert p.test.time.min() >= train_end and p.val.time.min() >= train_end
    assert (p.test.lengths >= 1).all() and (p.test.target < p.num_items).all()
    # histories only hold earlier events: each history item was rated by that user before
    assert np.all(p.test.items[p.test.lengths > 0, 0] < p.num_items)


def test_smoke_slice_is_tiny_and_deterministic(real_data_dir):
    cfg = prepare.DataConfig.for_mode(Mode.SMOKE, genres=("Fantasy", "Romance"))
    a, b = prepare.prepare(cfg, real_data_dir), prepare.prepare(cfg, real_data_dir)
    assert len(a.encoded.frame) < 5_000 and a.num_users <= 60
    assert a.test.target.tolist() == b.test.target.tolist()


def test_smoke_runs_leave_the_warm_up_and_evaluate(real_data_dir):
    """In smoke mode the two-phase methods must reach phase 2, or CI would never run it."""
    from recrl_core.data import transitions
    from recrl_core.rl import sa2c, sqn
    from recrl_core.train import loops

    p = prepare.prepare(prepare.DataConfig.for_mode(Mode.SMOKE, genres=("Fantasy", "Romance")), real_data_dir)
    rows = len(transitions.build_transitions(p.train, transitions.TransitionConfig(), p.encoded.pad_id))
    for cfg in (sqn.SQNConfig.for_mode(Mode.SMOKE), sa2c.SA2CConfig.for_mode(Mode.SMOKE),
                loops.SupervisedConfig.for_mode(Mode.SMOKE)):
        steps = loops.total_steps(rows, cfg.batch_size, cfg.epochs)
        assert steps >= 2 * cfg.eval_every
        assert steps > getattr(cfg, "warmup_steps", 0)


def test_ratings_and_tags_are_on_the_scale_and_in_the_catalogue(real_data_dir):
    # load_ratings and load_tags raise on an off-scale rating or a movieId missing from
    # movies.csv; the official copy has neither.
    ratings = movielens.load_ratings(real_data_dir, strict=True)
    assert sorted(ratings["value"].unique()) == [x / 2 for x in range(1, 11)]
    tags = movielens.load_tags(real_data_dir, strict=True)
    assert len(tags) == 3_683 and tags["item"].isin(movielens.load_movies(real_data_dir)["item"]).all()
