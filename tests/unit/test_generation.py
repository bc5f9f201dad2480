"""Generation defaults, response masks, and log-probs that match what was sampled."""

import pytest
import torch

from recrl_core.llm import generation, logprobs, prompts

SETTINGS = dict(generation.GENERATION_DEFAULTS, max_new_tokens=8)


def _prompts(tok):
    return [prompts.genre_prompt(tok, ["Heat (1995)"]),
            prompts.genre_prompt(tok, ["Jumanji (1995)", "Toy Story (1995)", "Up (2009)"])]


def test_defaults_pass_every_sampling_parameter():
    d = generation.GENERATION_DEFAULTS
    assert d == dict(do_sample=True, temperature=0.7, top_p=1.0, top_k=0, max_new_tokens=40)


def test_response_mask_stops_after_the_first_eos():
    eos = 2
    ids = torch.tensor([[5, 6, 2, 2, 2], [5, 2, 7, 2, 2], [5, 6, 7, 8, 9]])
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
    assert torch.equal(generation.response_mask(ids, eos), expected)


def test_same_seed_same_samples(tiny_lm, lm_tokenizer):
    a = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=5)
    b = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=5)
    c = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=6)
    assert torch.equal(a.response_ids, b.response_ids) and a.texts == b.texts
    assert not torch.equal(a.response_ids, c.response_ids)
    assert a.prompt_mask[0].sum() < a.prompt_mask[1].sum()          # left padding is real


def test_logprobs_equal_the_sampling_distribution(tiny_lm, lm_tokenizer):
    """Scoring the sampled tokens reproduces generate's own (temperature-scaled) scores."""
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=3)
    torch.manual_seed(3)
    out = tiny_lm.generate(input_ids=batch.prompt_ids, attention_mask=batch.prompt_mask,
                           **generation._settings(SETTINGS, lm_tokenizer),
                           output_scores=True, return_dict_in_generate=True)
    scores = torch.stack(out.scores, dim=1)                                   # (B, T, V), already / tau
    expected = torch.log_softmax(scores, -1).gather(-1, batch.response_ids[..., None]).squeeze(-1)
    with torch.no_grad():
        ours = logprobs.token_logprobs(tiny_lm, batch, temperature=0.7)
    torch.testing.assert_close(ours, expected * batch.response_mask, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        wrong = logprobs.token_logprobs(tiny_lm, batch, temperature=1.0)
    assert not torch.allclose(wrong, ours, atol=1e-3)


def test_policy_with_value_starts_at_zero_value(tiny_lm, lm_tokenizer):
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=0)
    policy = logprobs.PolicyWithValue(tiny_lm)
    with torch.no_grad():
        lp, values, entropy = policy(batch, 0.7)
        direct = logprobs.token_logprobs(tiny_lm, batch, 0.7)
    assert torch.equal(lp, direct)
    assert torch.count_nonzero(values) == 0
    assert (entropy[batch.response_mask.bool()] > 0).all()


def test_sequence_logprob_is_the_sum(tiny_lm, lm_tokenizer):
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(logprobs.sequence_logprob(tiny_lm, batch),
                                   logprobs.token_logprobs(tiny_lm, batch).sum(1))


@pytest.mark.parametrize("batch_size", [1, 2])
def test_batched_and_chunked_generation_shapes(tiny_lm, lm_tokenizer, batch_size):
    g = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer), SETTINGS, seed=0,
                            batch_size=batch_size)
    assert g.response_ids.shape == (2, 8) and g.response_mask.shape == (2, 8)
    assert len(g.texts) == 2 and len(g.rows([1])) == 1
