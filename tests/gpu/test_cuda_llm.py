"""The LLM toolkit and the PPO loop on a CUDA device (full mode's path). Skipped without a GPU."""

import dataclasses

import numpy as np
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.llm import candidates, generation, logprobs, lora, models, prompts
from recrl_core.rl import ppo
from recrl_core.train import ppo_loop

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _prompts(tok):
    return [prompts.genre_prompt(tok, [t]) for t in ["Heat (1995) [Action, Crime]", "Up (2009) [Animation]"]]


def test_precision_follows_the_device():
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    assert models.pick_dtype("cuda") == expected


def test_cuda_logprobs_match_cpu(lm_tokenizer):
    cpu = models.tiny_causal_lm(vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer)
    gpu = models.tiny_causal_lm(vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer).to("cuda")
    batch = generation.generate(cpu, lm_tokenizer, _prompts(lm_tokenizer),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=8), seed=0)
    moved = generation.Generated(*(t.to("cuda") for t in (batch.prompt_ids, batch.prompt_mask,
                                                          batch.response_ids, batch.response_mask)), batch.texts)
    with torch.no_grad():
        a = logprobs.token_logprobs(cpu, batch, 0.7)
        b = logprobs.token_logprobs(gpu, moved, 0.7).cpu()
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_ppo_loop_runs_in_bf16_on_cuda(lm_tokenizer):
    model, tok = models.load_lm("tiny-llama", device="cuda")
    assert next(model.parameters()).device.type == "cuda"
    policy = ppo_loop.make_policy(model, lora.LoRAConfig(r=4))
    cfg = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=6)
    history = ppo_loop.fit_ppo(policy, tok, _prompts(tok), lambda t, p: [len(x) / 30 for x in t], dataclasses.replace(cfg, updates=2),
                               progress=False)
    assert len(history) == 2
    assert np.isfinite([v for s in history for v in s.values()]).all()
    scores = candidates.score_candidates(policy.lm, tok, _prompts(tok)[0], ["Heat", "Up"])
    assert np.isfinite(scores).all()


def test_left_padded_bf16_gradients_are_finite(lm_tokenizer):
    """Regression: the default bf16 SDPA backend gave NaN gradients for left-padded rows."""
    model = models.tiny_causal_lm(vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer).to("cuda", torch.bfloat16)
    policy = lora.add_lora(model, lora.LoRAConfig(r=4))
    batch = generation.generate(policy, lm_tokenizer, _prompts(lm_tokenizer),
                                dict(generation.GENERATION_DEFAULTS, max_new_tokens=6), seed=0)
    assert batch.prompt_mask.sum(1).unique().numel() == 2                 # rows really are padded
    logprobs.token_logprobs(policy, batch, 0.7).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters() if p.grad is not None)
