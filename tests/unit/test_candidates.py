"""Scoring candidates by likelihood, title normalisation and matching."""

import numpy as np
import pytest
import torch

from recrl_core.llm import candidates, prompts

TITLES = ["Matrix, The (1999)", "Heat (1995)", "Heat and Dust (1983)", "Toy Story (1995)", "Up (2009)"]


def test_normalise_title():
    assert candidates.normalise_title("Matrix, The (1999)") == "the matrix"
    assert candidates.normalise_title("  Toy Story (1995) ") == "toy story"
    assert candidates.normalise_title("Amélie!") == "amélie"


def test_match_items_exact_then_contained_then_none():
    texts = ["The Matrix", "You will love Heat and Dust, trust me.", "watch heat tonight", "nothing here"]
    got = candidates.match_items(texts, TITLES, use_embeddings=False)
    assert got.tolist() == [0, 2, 1, -1]


def test_short_titles_are_not_matched_inside_words():
    assert candidates.match_items(["I upgraded my tv"], TITLES, use_embeddings=False).tolist() == [-1]


def test_scores_equal_a_manual_forward(tiny_lm, lm_tokenizer):
    p = prompts.choice_prompt(lm_tokenizer, ["Heat (1995)"], ["Up (2009)", "Heat and Dust (1983)"])
    got = candidates.score_candidates(tiny_lm, lm_tokenizer, p, ["Up", "Heat and Dust"], reduce="sum")
    for answer, score in zip(["Up", "Heat and Dust"], got):
        ids_p = lm_tokenizer(p, add_special_tokens=False)["input_ids"]
        ids_a = lm_tokenizer(answer, add_special_tokens=False)["input_ids"] + [lm_tokenizer.eos_token_id]
        ids = torch.tensor([ids_p + ids_a])
        with torch.no_grad():
            logp = torch.log_softmax(tiny_lm(input_ids=ids).logits[0].float(), -1)
        manual = sum(float(logp[len(ids_p) - 1 + t, tok]) for t, tok in enumerate(ids_a))
        assert score == pytest.approx(manual, abs=1e-4)
    mean = candidates.score_candidates(tiny_lm, lm_tokenizer, p, ["Up", "Heat and Dust"])
    lengths = [len(lm_tokenizer(a, add_special_tokens=False)["input_ids"]) + 1 for a in ["Up", "Heat and Dust"]]
    np.testing.assert_allclose(mean, got / np.array(lengths), rtol=1e-6)


@pytest.mark.llm
def test_minilm_sanity_values_and_embedding_fallback():
    from recrl_core.llm import embeddings

    v = embeddings.embed_texts(["A young wizard discovers a hidden magical kingdom.",
                                "A dragon guards an ancient enchanted sword.",
                                "Two rivals fall in love during a summer in Paris."], cache=False)
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = embeddings.cosine_matrix(v, v)
    assert sims[0, 1] == pytest.approx(0.291, abs=0.01)
    assert sims[0, 2] == pytest.approx(-0.067, abs=0.01)
    got = candidates.match_items(["the toy story movie with woody"], TITLES, min_similarity=0.5)
    assert got.tolist() == [3]
