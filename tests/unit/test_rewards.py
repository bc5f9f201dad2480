"""The composite explanation reward: each term by hand, fluency = a manual forward of the reference LM."""

import dataclasses
import hashlib

import numpy as np
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.data import genre_words
from recrl_core.llm import generation, logprobs, lora, prompts
from recrl_core.methods.shielded import explanation_reward
from recrl_core.methods.shielded.explanation_reward import CompositeReward, ExplanationContext, RewardConfig

FANTASY = ExplanationContext("Willow (1988)", ("Fantasy",), "Willow (1988). Genres: Fantasy. Tags: magic, sorcery",
                             "Labyrinth (1986) [Fantasy], The NeverEnding Story (1984) [Fantasy]")
SHREK = ExplanationContext("Shrek (2001)", ("Adventure", "Animation", "Comedy"),
                           "Shrek (2001). Genres: Adventure, Animation, Comedy. Tags: ogre, fairy tale",
                           "Toy Story (1995) [Animation, Comedy], Up (2009) [Adventure, Animation]")
CONTEXTS = {"p-fantasy": FANTASY, "p-shrek": SHREK}


def fake_embed(texts):
    """Deterministic hashed bag of words in 64 dims, unit-norm (zero for empty text)."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().replace(".", " ").replace(",", " ").split():
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def words(n):
    return " ".join(["word"] * n)


def test_config_is_frozen_the_same_in_every_mode_and_ablates_by_name():
    cfg = RewardConfig()
    assert RewardConfig.SIZE_FIELDS == ()
    assert all(RewardConfig.for_mode(m) == cfg for m in Mode)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.w_length = 1.0
    ablated = cfg.without("relevance")
    assert ablated.w_relevance == 0.0
    assert (ablated.w_length, ablated.w_coherence, ablated.w_factuality) == (0.3, 0.3, 0.5)
    assert cfg.without("length", "factuality").w_factuality == 0.0
    with pytest.raises(ValueError, match="unknown reward terms"):
        cfg.without("fluency")
    with pytest.raises(ValueError):
        RewardConfig(length_range=(0, 10))


def test_length_term_saturates_inside_the_range_and_decays_after():
    got = explanation_reward.length_term([words(n) for n in (0, 5, 10, 20, 30, 40, 60, 80, 100)], (20, 40))
    np.testing.assert_allclose(got, [0.0, 0.25, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    assert explanation_reward.word_count("  two\twords \n") == 2


def test_relevance_term_clips_negative_cosines_and_averages():
    e = np.array([[1.0, 0.0], [0.6, 0.8]])
    item = np.array([[1.0, 0.0], [-1.0, 0.0]])
    profile = np.array([[0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(explanation_reward.relevance_term(e, item, profile), [0.5, 0.4])


def test_sentences_and_consistency_penalise_fragments_and_repetition():
    assert explanation_reward.sentences("You will love it! Great. Why? ") == ["You will love it", "Great", "Why"]
    texts = ["You will love the magic. The dragons are great fun.",
             "You will love the magic. You will love the magic.",
             "You will love the magic. Great.",
             "", "..."]
    np.testing.assert_allclose(explanation_reward.consistency_term(texts, 3), [1.0, 0.5, 0.5, 0.0, 0.0])


def test_fluency_term_maps_linearly_and_clips():
    got = explanation_reward.fluency_term(np.array([-9.0, -5.0, -3.25, -1.5, -0.1]), (-5.0, -1.5))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_false_genres_and_factuality_penalty():
    assert genre_words.false_genres("a romantic comedy", ("Fantasy",)) == {"Romance", "Comedy"}
    assert genre_words.false_genres("a fantasy epic", ("Fantasy",)) == set()
    got = explanation_reward.factuality_penalty(["a romantic comedy", "a funny fantasy", "a fantasy", "war horror noir"],
                                     [("Fantasy",)] * 4, 2)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.0, 1.0])


def _manual_mean_logprob(lm, tok, text):
    prompt = tok(prompts.chat(tok, explanation_reward.FLUENCY_PROMPT), add_special_tokens=False)["input_ids"]
    response = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logp = torch.log_softmax(lm(input_ids=ids).logits[0].float(), dim=-1)     # (P+T, V)
    P = len(prompt)
    picked = [logp[P - 1 + t, tok_id] for t, tok_id in enumerate(response)]
    return float(torch.stack(picked).mean())


def test_mean_token_logprob_equals_a_manual_forward(tiny_lm, lm_tokenizer):
    texts = ["A magical fantasy adventure.", "You will enjoy this charming story about a brave ogre and friends.", ""]
    got = explanation_reward.mean_token_logprob(tiny_lm, lm_tokenizer, texts, batch_size=2)   # padding in a batch
    want = [_manual_mean_logprob(tiny_lm, lm_tokenizer, t) for t in texts]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got.shape == (3,) and np.all(got < 0)


def test_mean_token_logprob_scores_with_the_adapter_off(tiny_lm, lm_tokenizer):
    texts = ["A magical fantasy adventure.", "Great fun for the whole family."]
    base = explanation_reward.mean_token_logprob(tiny_lm, lm_tokenizer, texts)
    model = lora.add_lora(tiny_lm, lora.LoRAConfig(r=4))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()
        batch = generation.teacher_forced(lm_tokenizer, [explanation_reward.fluency_prompt(lm_tokenizer)] * 2, texts)
        moved = logprobs.token_logprobs(model, batch, 1.0).sum(1) / batch.response_mask.sum(1)
    assert not np.allclose(moved.numpy(), base, atol=1e-3)              # the adapter really changes the LM
    np.testing.assert_allclose(explanation_reward.mean_token_logprob(model, lm_tokenizer, texts), base, rtol=1e-6)


def test_composite_is_the_weighted_sum_by_hand():
    texts = ["A magical fantasy with sorcery and magic. A romantic comedy too.", "Ogre."]
    reward = CompositeReward(RewardConfig(), CONTEXTS, embed=fake_embed)
    df = reward.terms(texts, ["p-fantasy", "p-shrek"])
    e, item, prof = fake_embed(texts), fake_embed([FANTASY.item_text, SHREK.item_text]), \
        fake_embed([FANTASY.profile_text, SHREK.profile_text])
    rel = [(max(e[i] @ item[i], 0) + max(e[i] @ prof[i], 0)) / 2 for i in range(2)]
    length = [11 / 20, 1 / 20]
    consistency = [1.0, 0.0]                        # both sentences >= 3 words; "Ogre" is a fragment
    fact = [1.0, 0.0]                               # Romance + Comedy are not Fantasy
    want = [0.3 * length[i] + 0.4 * rel[i] + 0.3 * consistency[i] - 0.5 * fact[i] for i in range(2)]
    np.testing.assert_allclose(df["relevance"], rel, rtol=1e-6)
    np.testing.assert_allclose(df["length"], length)
    np.testing.assert_allclose(df["coherence"], consistency)
    assert df["fluency"].isna().all() and df["false_genres"].tolist() == [2, 0]
    np.testing.assert_allclose(df["reward"], want, rtol=1e-6)
    assert reward(texts, ["p-fantasy", "p-shrek"]) == pytest.approx(want, rel=1e-6)
    assert 0.0 < rel[0] and rel[0] > rel[1]


def test_coherence_with_an_lm_is_the_mean_of_fluency_and_consistency(tiny_lm, lm_tokenizer):
    texts = ["You will love the magic. The dragons are great fun.", "Ogre"]
    cfg = RewardConfig()
    df = CompositeReward(cfg, CONTEXTS, tiny_lm, lm_tokenizer, embed=fake_embed).terms(texts, ["p-fantasy"] * 2)
    fluency = explanation_reward.fluency_term(explanation_reward.mean_token_logprob(tiny_lm, lm_tokenizer, texts), cfg.fluency_range)
    np.testing.assert_allclose(df["fluency"], fluency, rtol=1e-6)
    np.testing.assert_allclose(df["coherence"], (fluency + df["consistency"]) / 2, rtol=1e-6)
    assert list(df.columns) == ["length", "relevance", "fluency", "consistency", "coherence",
                                "false_genres", "factuality", "reward"]


def test_ablations_zero_a_weight_and_skip_the_lm():
    texts = ["A magical fantasy with sorcery and magic."]
    full = CompositeReward(RewardConfig(), CONTEXTS, embed=fake_embed).terms(texts, ["p-fantasy"])
    no_rel = CompositeReward(RewardConfig().without("relevance"), CONTEXTS, embed=fake_embed)
    assert no_rel(texts, ["p-fantasy"])[0] == pytest.approx(full["reward"][0] - 0.4 * full["relevance"][0])
    no_coh = CompositeReward(RewardConfig().without("coherence"), CONTEXTS, lm=object(), tokenizer=object(),
                             embed=fake_embed)                   # an LM call would fail on object()
    assert no_coh(texts, ["p-fantasy"])[0] == pytest.approx(full["reward"][0] - 0.3 * full["coherence"][0])


def test_unknown_prompt_is_a_clear_key_error():
    reward = CompositeReward(RewardConfig(), CONTEXTS, embed=fake_embed)
    with pytest.raises(KeyError, match="no ExplanationContext"):
        reward(["text"], ["p-unknown"])


@pytest.mark.llm
def test_minilm_relevance_prefers_an_on_topic_explanation():
    from recrl_core.llm.embeddings import embed_texts

    reward = CompositeReward(RewardConfig(), CONTEXTS, embed=lambda t: embed_texts(t, cache=False))
    df = reward.terms(["A magical fantasy adventure with wizards and dragons",
                       "The quarterly tax report is due on Monday"], ["p-fantasy"] * 2)
    assert df["relevance"][0] > df["relevance"][1] + 0.1
