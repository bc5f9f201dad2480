"""Token-level PPO on a tiny random LM: statistics, learning signal, exact resume."""

import dataclasses

import pytest
import torch

from recrl_core.config import Mode
from recrl_core.llm import lora, prompts
from recrl_core.rl import ppo
from recrl_core.train import ppo_loop

CFG = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=6, lr=3e-3,
                          rollout_batch=8, minibatch_size=4)


def _reward(texts, _prompts):
    """Longer text (in characters) is better: a tiny model can learn to prefer long tokens."""
    return [len(t) / 30 for t in texts]


def _prompts(tok):
    return [prompts.genre_prompt(tok, [t]) for t in ["Heat (1995)", "Up (2009)", "Jumanji (1995)"]]


def test_logged_statistics_have_stable_names(tiny_lm, lm_tokenizer):
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=4))
    history = ppo_loop.fit_ppo(policy, lm_tokenizer, _prompts(lm_tokenizer), _reward, dataclasses.replace(CFG, updates=1),
                               progress=False)
    for name in ["objective/kl", "objective/kl_k3", "objective/score", "objective/non_score_reward",
                 "losses/policy", "losses/value", "ppo/clipfrac", "ppo/approx_kl", "ppo/grad_norm",
                 "policy/entropy", "response/length"]:
        assert name in history[0]
    assert history[0]["objective/kl"] == 0.0                    # first rollout: policy == reference


def test_only_lora_and_value_head_train(tiny_lm):
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=4))
    names = [n for n, p in policy.named_parameters() if p.requires_grad]
    assert all("lora_" in n or n.startswith("value_head") for n in names)
    assert any(n.startswith("value_head") for n in names)


def test_one_update_moves_probability_towards_high_reward(tiny_lm, lm_tokenizer):
    """After one PPO update, well-scored samples gained log-probability relative to poor ones;
    with the advantage sign flipped (a broken loss) the test fails."""
    import numpy as np

    cfg = dataclasses.replace(CFG, rollout_batch=16, lr=1e-2, kl_coef=0.0)
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=8))
    roll = ppo_loop.collect(policy, lm_tokenizer, _prompts(lm_tokenizer) * 6, _reward, cfg, seed=7)
    roll.scores = roll.scores[:16]
    roll = dataclasses.replace(roll, batch=roll.batch.rows(range(16)), logprobs=roll.logprobs[:16],
                               ref_logprobs=roll.ref_logprobs[:16], values=roll.values[:16])
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    ppo_loop.ppo_update(policy, optimizer, roll, cfg, kl_coef=0.0, rng=np.random.default_rng(0))
    with torch.no_grad():
        after, _, _ = policy(roll.batch, cfg.temperature)
    gain = (after - roll.logprobs).sum(1)                                    # (B,) change of log pi(y|x)
    order = torch.argsort(roll.scores)
    assert gain[order[8:]].mean() > gain[order[:8]].mean() + 0.01, (gain, roll.scores)


def test_resume_is_exact(tmp_path, lm_tokenizer):
    from recrl_core.llm import models

    def run(updates, ckpt):
        lm = models.tiny_causal_lm(vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer)
        policy = ppo_loop.make_policy(lm, lora.LoRAConfig(r=4))
        return ppo_loop.fit_ppo(policy, lm_tokenizer, _prompts(lm_tokenizer), _reward, dataclasses.replace(CFG, updates=updates),
                                checkpoint_dir=ckpt, progress=False), policy

    straight, p1 = run(3, None)
    run(2, tmp_path / "ckpt")
    resumed, p2 = run(3, tmp_path / "ckpt")
    drop = lambda h: [{k: v for k, v in s.items() if not k.startswith("time/update")} for s in h]  # noqa: E731
    assert drop(resumed) == drop(straight)
    for (n, a), (_, b) in zip(p1.named_parameters(), p2.named_parameters()):
        if a.requires_grad:
            assert torch.equal(a, b), n


def test_kl_estimator_is_validated():
    with pytest.raises(ValueError, match="k1"):
        ppo.PPOConfig(kl_estimator="k2")
