"""Soft prompt from ranker context: identity at init, per-row injection, reference = off, PPO plumbing."""

import dataclasses

import pytest
import torch

from recrl_core.config import Mode
from recrl_core.llm import generation, lora, prompts, soft_prompt
from recrl_core.llm.logprobs import token_logprobs
from recrl_core.rl import ppo
from recrl_core.train import ppo_loop

C = 6


def _prompts(tok, marker):
    return [prompts.explanation_prompt(tok, ["Heat (1995)"], t, ["Fantasy"], marker=marker)
            for t in ["Up (2009)", "Jumanji (1995)", "Shrek (2001)"]]


def _randomise(soft):
    with torch.no_grad():
        soft.outer.weight.normal_(0, 0.5)


def test_placeholder_is_one_rare_token(lm_tokenizer):
    text, token = soft_prompt.placeholder_id(lm_tokenizer)
    assert lm_tokenizer(text, add_special_tokens=False)["input_ids"] == [token]
    assert token not in (lm_tokenizer.eos_token_id, lm_tokenizer.pad_token_id)


def test_untrained_soft_prompt_is_the_base_model(tiny_lm, lm_tokenizer):
    """Zero-initialised output layer: the policy with context equals the LM reading placeholders."""
    soft = soft_prompt.add_soft_prompt(tiny_lm, lm_tokenizer, C, num_tokens=3)
    ctx = torch.randn(3, C)
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer, soft.marker()),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=5), seed=1, context=ctx)
    with torch.no_grad():
        with_ctx = token_logprobs(tiny_lm, batch, 0.7)
        plain = token_logprobs(tiny_lm, dataclasses.replace(batch, context=None), 0.7)
    assert torch.equal(with_ctx, plain)


def test_each_row_gets_its_own_context_and_reference_mode_turns_it_off(tiny_lm, lm_tokenizer):
    lm = lora.add_lora(tiny_lm, lora.LoRAConfig(r=4))
    soft = soft_prompt.add_soft_prompt(lm, lm_tokenizer, C, num_tokens=2)
    _randomise(soft)
    ctx = torch.randn(3, C)
    batch = generation.generate(lm, lm_tokenizer, _prompts(lm_tokenizer, soft.marker()),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=5), seed=1, context=ctx)
    with torch.no_grad():
        full = token_logprobs(lm, batch, 1.0)
        row1 = token_logprobs(lm, batch.rows([1]), 1.0)                   # the sub-batch keeps its context
        swapped = token_logprobs(lm, dataclasses.replace(batch, context=ctx.flip(0)), 1.0)
        with lora.reference_mode(lm):
            ref = token_logprobs(lm, batch, 1.0)
        plain = token_logprobs(lm, dataclasses.replace(batch, context=None), 1.0)
    torch.testing.assert_close(row1[0, :row1.shape[1]], full[1, :row1.shape[1]])
    assert not torch.allclose(swapped[0], full[0])                        # row 0 reads its own context
    assert not torch.allclose(plain, full)                                # the soft prompt matters
    with torch.no_grad(), lm.disable_adapter():
        base = token_logprobs(lm, dataclasses.replace(batch, context=None), 1.0)
    assert torch.equal(ref, base)                                         # reference: adapter AND soft prompt off


def test_wrong_placeholder_count_is_a_clear_error(tiny_lm, lm_tokenizer):
    soft = soft_prompt.add_soft_prompt(tiny_lm, lm_tokenizer, C, num_tokens=2)
    _randomise(soft)
    enc = lm_tokenizer([_prompts(lm_tokenizer, soft.text)[0]], return_tensors="pt")   # one placeholder only
    with soft.bound(torch.randn(1, C)), pytest.raises(ValueError, match="exactly 2 placeholder"):
        tiny_lm(**enc)


def test_gradient_reaches_the_adapter_and_the_context(tiny_lm, lm_tokenizer):
    soft = soft_prompt.add_soft_prompt(tiny_lm, lm_tokenizer, C, num_tokens=2)
    _randomise(soft)
    ctx = torch.randn(3, C, requires_grad=True)
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer, soft.marker()),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=4), seed=2)
    token_logprobs(tiny_lm, dataclasses.replace(batch, context=ctx)).sum().backward()
    assert soft.inner.weight.grad.abs().sum() > 0 and ctx.grad.abs().sum() > 0


def test_ppo_with_soft_prompt_trains_it_and_starts_at_zero_kl(tiny_lm, lm_tokenizer):
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=4))
    soft = soft_prompt.add_soft_prompt(policy.lm, lm_tokenizer, C, num_tokens=2)
    cfg = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=5, lr=1e-2, rollout_batch=4)
    before = soft.outer.weight.detach().clone()
    pr = _prompts(lm_tokenizer, soft.marker())
    seen = []
    history = ppo_loop.fit_ppo(policy, lm_tokenizer, pr, lambda t, p: [len(x) / 20 for x in t], dataclasses.replace(cfg, updates=2),
                               progress=False, contexts=torch.randn(len(pr), C),
                               callback=lambda step, roll: seen.append(roll.batch.context.shape) or {"extra": 1.0})
    assert history[0]["objective/kl"] == 0.0 and history[0]["extra"] == 1.0
    assert seen == [torch.Size([4, C])] * 2
    assert not torch.equal(soft.outer.weight, before)
    assert any("soft_prompt" in n for n, p in policy.named_parameters() if p.requires_grad)


def test_a_sampled_placeholder_is_plain_text(tiny_lm, lm_tokenizer):
    """The policy may sample the placeholder token: only the prompt's first k copies are soft tokens."""
    soft = soft_prompt.add_soft_prompt(tiny_lm, lm_tokenizer, C, num_tokens=2)
    _randomise(soft)
    ctx = torch.randn(3, C)
    batch = generation.generate(tiny_lm, lm_tokenizer, _prompts(lm_tokenizer, soft.marker()),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=4), seed=1, context=ctx)
    resampled = dataclasses.replace(batch, response_ids=batch.response_ids.clone())
    resampled.response_ids[0, 1] = soft.token_id                          # row 0 "wrote" the placeholder
    with torch.no_grad():
        got = token_logprobs(tiny_lm, resampled, 1.0)                     # no error: counts stay k per row
        with soft.bound(ctx[:1]):
            tiny_lm(input_ids=torch.tensor([[soft.token_id]]))            # a decoding step feeding it back
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got[1:], token_logprobs(tiny_lm, batch, 1.0)[1:])
