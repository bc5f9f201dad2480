"""Scoring candidates by likelihood, title normalisation and matching."""

import numpy as np
import pytest
import torch

from recrl_core.llm import candidates, generation, logprobs, models, prompts

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


def _full_rows(model, tok, prompt, answers, reduce):
    """The reference: one full row [prompt, answer + EOS] per candidate, summed in float64."""
    batch = generation.teacher_forced(tok, [prompt] * len(answers), answers)
    with torch.no_grad():
        logp = logprobs.token_logprobs(model, batch).double().sum(1)                  # (C,)
    if reduce == "mean":
        logp = logp / batch.response_mask.double().sum(1)
    return logp.numpy()


def _sets(tok):
    ps = [prompts.choice_prompt(tok, ["Heat (1995)", "Up (2009)"], ["Toy Story (1995)", "Heat and Dust (1983)"]),
          prompts.chat(tok, "Name a film."),
          prompts.genre_prompt(tok, ["Toy Story (1995)", "Jumanji (1995)", "Heat (1995)", "Casino (1995)"])]
    cs = [["Toy Story", "Heat and Dust (1983)", "Up"],
          ["A", "The Lord of the Rings: The Return of the King (2003)"],
          ["Up", "Heat", "Sense and Sensibility", "Jumanji (1995)", "Twelve Monkeys (a.k.a. 12 Monkeys)"]]
    return ps, cs


@pytest.mark.parametrize("reduce", ["mean", "sum"])
def test_candidate_sets_equal_full_rows(tiny_lm, lm_tokenizer, reduce):
    ps, cs = _sets(lm_tokenizer)
    got = candidates.score_candidate_sets(tiny_lm, lm_tokenizer, ps, cs, reduce=reduce)
    assert [g.shape for g in got] == [(3,), (2,), (5,)] and all(g.dtype == np.float64 for g in got)
    for p, c, g in zip(ps, cs, got):
        np.testing.assert_allclose(g, _full_rows(tiny_lm, lm_tokenizer, p, c, reduce), atol=1e-5, rtol=0)


def test_scores_do_not_depend_on_the_batching(tiny_lm, lm_tokenizer):
    ps, cs = _sets(lm_tokenizer)
    one_each = candidates.score_candidate_sets(tiny_lm, lm_tokenizer, ps, cs, max_tokens=1)  # a row per answer
    together = candidates.score_candidate_sets(tiny_lm, lm_tokenizer, ps, cs, max_tokens=10**6)  # one pass
    for a, b in zip(one_each, together):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)      # not bitwise: padded widths differ
    split = candidates.score_candidates(tiny_lm, lm_tokenizer, ps[2], cs[2], batch_size=2)
    np.testing.assert_allclose(split, together[2], atol=1e-6, rtol=0)


def test_empty_candidates_or_prompt_are_errors(tiny_lm, lm_tokenizer):
    p = prompts.chat(lm_tokenizer, "Name a film.")
    with pytest.raises(ValueError, match="at least one candidate"):
        candidates.score_candidates(tiny_lm, lm_tokenizer, p, [])
    with pytest.raises(ValueError, match="candidate set 1 is empty"):
        candidates.score_candidate_sets(tiny_lm, lm_tokenizer, [p, p], [["Up"], []])
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        candidates.score_candidate_sets(tiny_lm, lm_tokenizer, [""], [["Up"]])
    with pytest.raises(ValueError, match="2 prompts but 1 candidate sets"):
        candidates.score_candidate_sets(tiny_lm, lm_tokenizer, [p, p], [["Up"]])


@pytest.mark.llm
def test_smollm2_candidate_scores_equal_full_rows():
    model, tok = models.load_lm(models.SMOLLM2)
    cands = ["Up (2009)", "Heat and Dust (1983)", "Se7en (1995)"]
    p = prompts.choice_prompt(tok, ["Heat (1995)", "Casino (1995)"], cands)
    got = candidates.score_candidate_sets(model, tok, [p], [cands])[0]
    np.testing.assert_allclose(got, _full_rows(model, tok, p, cands, "mean"), atol=1e-4, rtol=0)
