"""The Ch. 5 toy task: genre mentions, the target rule and prompt building."""

from collections import Counter

import pandas as pd
import pytest

from recrl_core.data import genre_words
from recrl_core.llm import genre_task


def test_mentions_use_word_boundaries_and_synonyms():
    assert genre_words.mentioned_genres("Try a romantic comedy tonight!") == {"Romance", "Comedy"}
    assert genre_words.mentioned_genres("Some science fiction, or Sci-Fi") == {"Sci-Fi"}
    assert genre_words.mentioned_genres("warm and dramatically awarded") == set()     # no 'war', 'drama'
    assert genre_words.mentioned_genres("An animated family film") == {"Animation", "Children"}


def test_reward_is_one_only_for_the_target():
    texts = ["Watch a thriller.", "Watch a comedy.", ""]
    assert genre_task.genre_reward(texts, ["Thriller", "Drama", "Drama"]) == [1.0, 0.0, 0.0]


def test_target_genre_ties_break_by_overall_count_then_name():
    overall = Counter({"Drama": 10, "Comedy": 5, "Action": 5})
    assert genre_task.target_genre([("Comedy", "Drama"), ("Comedy",)], overall) == "Comedy"
    assert genre_task.target_genre([("Comedy",), ("Drama",)], overall) == "Drama"
    assert genre_task.target_genre([("Comedy",), ("Action",)], overall) == "Action"
    with pytest.raises(ValueError, match="genre"):
        genre_task.target_genre([()], overall)


def test_build_task_uses_the_most_recent_titles(lm_tokenizer):
    movies = pd.DataFrame({"item": [1, 2, 3, 4], "title": ["A (1990)", "B (1991)", "C (1992)", "D (1993)"],
                           "genres": [("Comedy",), ("Horror",), ("Horror",), ()]})
    ratings = pd.DataFrame({"user": [7, 7, 7, 8], "item": [1, 2, 3, 4], "time": [1, 2, 3, 1]})
    task = genre_task.build_genre_task(ratings, movies, lm_tokenizer, num_users=5, history=2)
    assert task.users == [7] and task.targets == ["Horror"]                  # user 8 has no genre
    assert "B (1991) [Horror], C (1992) [Horror]" in task.prompts[0] and "A (1990)" not in task.prompts[0]
    assert task.reward(["a horror film"], task.prompts) == [1.0]
    assert task.trl_reward(completions=["a comedy"], prompts=task.prompts) == [0.0]
