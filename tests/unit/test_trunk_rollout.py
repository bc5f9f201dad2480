"""Rollouts on a frozen trunk: the same tokens, log-probs, values and gradients as the whole model."""

import dataclasses

import pytest
import torch

from recrl_core.caching import TensorCache
from recrl_core.llm import generation, lora, models, prompts, soft_prompt, trunk, trunk_rollout
from recrl_core.llm.logprobs import PolicyWithValue, token_logprobs

C, LAYERS, SPLIT = 5, 4, 2


def _prompts(tok, marker):
    return [prompts.explanation_prompt(tok, ["Heat (1995)", "Up (2009)"][:n], t, ["Fantasy"], marker=marker)
            for n, t in [(1, "Up (2009)"), (2, "Jumanji (1995)"), (1, "Shrek (2001)"), (2, "Big (1988)")]]


@pytest.fixture
def explainer(lm_tokenizer):
    """A 4-layer LM with LoRA on the top 2 layers, a soft prompt entering at layer 2, all moved off zero."""
    lm = models.tiny_causal_lm("llama", vocab_size=len(lm_tokenizer), layers=LAYERS, seed=0, tokenizer=lm_tokenizer)
    policy = PolicyWithValue(lora.add_lora(lm, lora.LoRAConfig(r=4, layers=tuple(range(SPLIT, LAYERS)))))
    soft = soft_prompt.add_soft_prompt(policy.lm, lm_tokenizer, C, num_tokens=2, layer=SPLIT)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if p.requires_grad:
                p.add_(0.3 * torch.randn(p.shape, generator=generator))
    pr = _prompts(lm_tokenizer, soft.marker())
    return policy, soft, pr, torch.randn(len(pr), C, generator=generator)


SAMPLE = dict(generation.GENERATION_DEFAULTS, max_new_tokens=6)


def test_greedy_trunk_generation_matches_transformers_generate(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    greedy = dict(do_sample=False, max_new_tokens=6)
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    ours = trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, greedy, context=ctx).batch
    theirs = generation.generate(policy.lm, lm_tokenizer, pr, greedy, context=ctx)
    assert torch.equal(ours.response_ids, theirs.response_ids) and ours.texts == theirs.texts
    plain = trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, greedy).batch   # the soft prompt matters
    assert not torch.equal(plain.response_ids, ours.response_ids)


def test_top_of_the_rollout_trunk_is_the_whole_model_with_adapter_on_and_off(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    sampled = trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, SAMPLE, seed=4, context=ctx)
    batch, cut = sampled.batch, sampled.trunk
    assert cut.split == SPLIT and cut.hidden.shape[:2] == (len(pr), batch.prompt_ids.shape[1] + batch.response_ids.shape[1])
    with torch.no_grad():
        for got, want in zip(policy(batch, 0.7, cut=cut), policy(batch, 0.7)):       # log-probs, values, entropy
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
        whole_logp, whole_values, _ = policy(batch, 0.7)
        torch.testing.assert_close(sampled.logprobs, whole_logp, atol=1e-5, rtol=1e-4)   # sampling's own log-probs
        torch.testing.assert_close(policy.values(sampled.states, batch.response_mask), whole_values,
                                   atol=1e-5, rtol=1e-4)
        with lora.reference_mode(policy.lm):
            ref_top = token_logprobs(policy.lm, batch, 0.7, cut=cut)
            ref_all = token_logprobs(policy.lm, batch, 0.7)
        with policy.lm.disable_adapter():
            base = token_logprobs(policy.lm, dataclasses.replace(batch, context=None), 0.7)
    torch.testing.assert_close(ref_top, ref_all, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ref_top, base, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(ref_top, policy(batch, 0.7, cut=cut)[0].detach(), atol=1e-3)   # adapter matters


def test_recorded_trunk_equals_a_fresh_trunk_pass(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    sampled = trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, SAMPLE, seed=5, context=ctx)
    batch, cut = sampled.batch, sampled.trunk
    from recrl_core.llm.logprobs import sequence_inputs
    seq = sequence_inputs(batch)
    fresh = trunk.trunk_pass(trunk.decoder_of(policy.lm), SPLIT, policy.lm.get_input_embeddings()(seq["input_ids"]),
                             seq["attention_mask"], seq["position_ids"])
    valid = seq["attention_mask"].bool().clone()
    valid[:, -1] = False                                           # the last token is never fed
    torch.testing.assert_close(cut.hidden[valid], fresh.hidden[valid], atol=1e-5, rtol=1e-4)


def test_prompt_trunks_are_per_prompt_and_batch_independent(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    together = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    together.batch(policy.lm, pr)
    alone = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT, batch_size=1)
    ids, mask, hidden, kv = alone.batch(policy.lm, [pr[2], pr[0], pr[2]])
    ids2, mask2, hidden2, kv2 = together.batch(policy.lm, [pr[2], pr[0], pr[2]])
    assert torch.equal(ids, ids2) and torch.equal(mask, mask2) and len(kv) == SPLIT
    torch.testing.assert_close(hidden, hidden2, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(kv[1][0], kv2[1][0], atol=1e-5, rtol=1e-4)
    assert (alone.misses, alone.hits, len(alone)) == (2, 1, 2) and (together.misses, together.hits) == (4, 3)


def test_saved_trunks_load_bit_for_bit_and_sample_the_same(explainer, lm_tokenizer, tmp_path):
    policy, soft, pr, ctx = explainer
    store = TensorCache("prompt_trunks", root=tmp_path)
    filled = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT, batch_size=3)
    assert filled.fill(policy.lm, pr + pr[:1]) == len(pr) and filled.fill(policy.lm, pr) == 0
    filled.save(store, "k")
    loaded = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    assert not loaded.load(store, "missing") and loaded.load(store, "k") and len(loaded) == len(pr)
    (*fa, kva), (*fb, kvb) = filled.batch(policy.lm, pr[::-1]), loaded.batch(policy.lm, pr[::-1])
    assert all(torch.equal(x, y) for x, y in zip(fa, fb))                      # ids, mask, hidden
    assert len(kva) == SPLIT and all(torch.equal(x, y) for pa, pb in zip(kva, kvb) for x, y in zip(pa, pb))
    assert loaded.misses == 0                                   # nothing computed after loading
    a, b = (trunk_rollout.generate(policy.lm, lm_tokenizer, pr, t, SAMPLE, seed=4, context=ctx) for t in (filled, loaded))
    assert torch.equal(a.batch.response_ids, b.batch.response_ids) and torch.equal(a.logprobs, b.logprobs)
    with pytest.raises(ValueError, match="cut at layer 2, not 1"):
        trunk_rollout.PromptTrunks(lm_tokenizer, 1).load(store, "k")


def test_sampling_is_seeded_and_settings_are_checked(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    a, b, c = (trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, SAMPLE, seed=s, context=ctx).batch
               for s in (1, 1, 2))
    assert torch.equal(a.response_ids, b.response_ids) and not torch.equal(a.response_ids, c.response_ids)
    with pytest.raises(ValueError, match="top_k=0"):
        trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, dict(SAMPLE, top_k=50))
    with pytest.raises(ValueError, match="repetition_penalty"):
        trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, dict(SAMPLE, repetition_penalty=1.2))
    with pytest.raises(ValueError, match="split must be >= 1"):
        trunk_rollout.PromptTrunks(lm_tokenizer, 0)
    with pytest.raises(ValueError, match="more than 4 layers"):
        trunk_rollout.PromptTrunks(lm_tokenizer, 4).batch(policy.lm, pr)


def test_top_p_keeps_the_nucleus_only():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    gen = torch.Generator().manual_seed(0)
    draws = {int(trunk_rollout.next_token(logits, dict(do_sample=True, temperature=1.0, top_p=0.7), gen)[0])
             for _ in range(200)}
    assert draws == {0, 1}                                          # 0.5 + 0.3 covers 0.7; 0.15 and 0.05 never


def test_soft_prompt_layer_must_match_the_split(lm_tokenizer):
    lm = models.tiny_causal_lm("llama", vocab_size=len(lm_tokenizer), layers=LAYERS, seed=0, tokenizer=lm_tokenizer)
    soft = soft_prompt.add_soft_prompt(lm, lm_tokenizer, C, num_tokens=2, layer=1)
    pr = _prompts(lm_tokenizer, soft.marker())
    with pytest.raises(ValueError, match="enters at layer 1"):
        trunk_rollout.generate(lm, lm_tokenizer, pr, trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT), SAMPLE,
                               context=torch.randn(len(pr), C))


def test_gradients_reach_only_the_top_and_the_soft_prompt(explainer, lm_tokenizer):
    policy, soft, pr, ctx = explainer
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    sampled = trunk_rollout.generate(policy.lm, lm_tokenizer, pr, trunks, SAMPLE, seed=6, context=ctx)
    batch, cut = sampled.batch, sampled.trunk
    sub = [2, 0]
    logp, values, _ = policy(batch.rows(sub), 0.7, cut=cut.rows(sub))
    with torch.no_grad():
        want = policy(batch.rows(sub), 0.7)[0]
    torch.testing.assert_close(logp.detach(), want, atol=1e-5, rtol=1e-4)       # Trunk.rows == the sub-batch
    (logp.sum() + values.sum()).backward()
    grads = {n: p.grad for n, p in policy.named_parameters() if p.requires_grad}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(g.abs().sum() > 0 for n, g in grads.items() if "lora_" in n or "soft_prompt" in n)
    assert all(f"layers.{i}." not in n for n in grads for i in range(SPLIT))    # no adapter below the split


def test_on_top_layers_sets_the_adapted_layers_and_the_split():
    cfg, split = lora.on_top_layers(lora.LoRAConfig(), 30, 4)
    assert (cfg.layers, split) == ((26, 27, 28, 29), 26)
    assert lora.on_top_layers(lora.LoRAConfig(), 30, None) == (lora.LoRAConfig(), 0)
    with pytest.raises(ValueError, match="adapt_layers"):
        lora.on_top_layers(lora.LoRAConfig(), 30, 31)


def test_ppo_on_the_trunk_trains_only_the_top_and_starts_at_zero_kl(explainer, lm_tokenizer):
    from recrl_core.config import Mode
    from recrl_core.rl import ppo
    from recrl_core.train import ppo_loop

    lm = models.tiny_causal_lm("llama", vocab_size=len(lm_tokenizer), layers=LAYERS, seed=0, tokenizer=lm_tokenizer)
    policy = ppo_loop.make_policy(lm, lora.on_top_layers(lora.LoRAConfig(r=4), LAYERS, LAYERS - SPLIT)[0])
    soft = soft_prompt.add_soft_prompt(policy.lm, lm_tokenizer, C, num_tokens=2, layer=SPLIT)
    pr = _prompts(lm_tokenizer, soft.marker())
    cfg = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=5, lr=1e-2, rollout_batch=4, updates=2)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT)
    seen = []
    history = ppo_loop.fit_ppo(policy, lm_tokenizer, pr, lambda t, p: [len(x) / 20 for x in t], cfg, progress=False,
                               contexts=torch.randn(len(pr), C), trunks=trunks,
                               callback=lambda step, roll: seen.append(roll.trunk is not None) or {})
    assert abs(history[0]["objective/kl"]) < 1e-5 and seen == [True, True] and trunks.hits > 0   # sampling vs top: fp noise
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(p.requires_grad for n, p in policy.named_parameters() if n in moved)
    assert any("soft_prompt" in n for n in moved) and any("layers.3." in n for n in moved)


def test_sampling_draws_from_the_tempered_distribution():
    probs = torch.tensor([0.1, 0.0, 0.6, 0.3])
    logits = torch.log(probs).expand(20_000, 4) * 0.5                     # at temperature 0.5: probs back
    tokens, logp = trunk_rollout.next_token(logits, dict(do_sample=True, temperature=0.5),
                                            torch.Generator().manual_seed(1))
    freq = torch.bincount(tokens, minlength=4).float() / len(tokens)
    assert freq[1] == 0 and torch.allclose(freq, probs, atol=0.015)
    torch.testing.assert_close(logp, torch.log(probs)[tokens])                  # log π(y) at the temperature
    greedy, greedy_logp = trunk_rollout.next_token(logits[:3], dict(do_sample=False), None)
    assert torch.equal(greedy, torch.tensor([2, 2, 2]))
    torch.testing.assert_close(greedy_logp, torch.log_softmax(logits[:3], -1)[:, 2])   # greedy: temperature 1


@pytest.mark.parametrize("on_trunk", [True, False])
def test_evaluation_sampler_is_seeded_per_chunk_and_scores_against_the_reference(explainer, lm_tokenizer, on_trunk):
    from recrl_core.rl import ppo
    from recrl_core.train import ppo_loop

    policy, soft, pr, ctx = explainer
    cfg = dataclasses.replace(ppo.PPOConfig(), max_new_tokens=6)
    trunks = trunk_rollout.PromptTrunks(lm_tokenizer, SPLIT) if on_trunk else None
    got = ppo_loop.sample_replies(policy.lm, lm_tokenizer, pr, cfg, seed=5, trunks=trunks, contexts=ctx, chunk=3)
    assert len(got.texts) == len(pr) and got.logprobs.shape == got.ref_logprobs.shape == got.mask.shape
    assert got.logprobs.shape[1] == int(got.mask.sum(1).max())                  # two chunks padded to one width
    assert bool((got.logprobs * (1 - got.mask)).eq(0).all())
    assert bool(((got.logprobs - got.ref_logprobs).abs() * got.mask).sum() > 0)  # the adapter moved
    first = ppo_loop.sample_replies(policy.lm, lm_tokenizer, pr[:3], cfg, seed=5, trunks=trunks, contexts=ctx[:3])
    assert first.texts == got.texts[:3]                                          # chunk at s samples with seed + s
    torch.testing.assert_close(first.logprobs, got.logprobs[:3, :first.logprobs.shape[1]])
    with torch.no_grad():                                  # LoRA B and the soft prompt at zero: no drift at all
        for name, p in policy.lm.named_parameters():
            if p.requires_grad and "lora_A" not in name:
                p.zero_()
    untrained = ppo_loop.sample_replies(policy.lm, lm_tokenizer, pr, cfg, seed=5, trunks=trunks, contexts=ctx)
    torch.testing.assert_close(untrained.logprobs, untrained.ref_logprobs, atol=1e-5, rtol=1e-4)
