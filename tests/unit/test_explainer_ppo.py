"""A few PPO steps with the soft prompt on a tiny random LM raise the composite reward."""

import dataclasses

import numpy as np
import torch

from recrl_core.config import Mode
from recrl_core.llm import lora, prompts, soft_prompt
from recrl_core.methods.shielded import explanation_reward
from recrl_core.rl import ppo
from recrl_core.train import ppo_loop

def _flat_embed(texts):
    return np.full((len(texts), 4), 0.5, dtype=np.float32)     # relevance is switched off here


TITLES = ["Up (2009)", "Jumanji (1995)", "Shrek (2001)", "Heat (1995)"]


def _setup(tiny_lm, tok):
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=8))
    soft = soft_prompt.add_soft_prompt(policy.lm, tok, 4, num_tokens=2)
    pr = [prompts.explanation_prompt(tok, ["Heat (1995) [Action]"], t, ["Fantasy"], marker=soft.marker())
          for t in TITLES]
    contexts = {p: explanation_reward.ExplanationContext(t, ("Fantasy",), f"{t}. Genres: Fantasy.", "Heat (1995) [Action]")
                for p, t in zip(pr, TITLES)}
    # length + consistency only (a random LM cannot be relevant or fluent): words are what it can learn
    cfg = explanation_reward.RewardConfig(length_range=(24, 48)).without("relevance", "coherence", "factuality")
    reward = explanation_reward.CompositeReward(cfg, contexts, embed=_flat_embed)
    return policy, pr, reward, torch.randn(len(pr), 4, generator=torch.Generator().manual_seed(0))


def test_ppo_steps_raise_the_composite_reward(tiny_lm, lm_tokenizer):
    """Updates on one rollout: the reward expected under the new policy, estimated on the
    rollout's own samples with self-normalised importance weights pi_new / pi_old, goes up
    (random replies differ in word count; a sign error in the loss makes this fail)."""
    policy, pr, reward, ctx = _setup(tiny_lm, lm_tokenizer)
    cfg = dataclasses.replace(ppo.PPOConfig.for_mode(Mode.SMOKE), max_new_tokens=12, lr=1e-2, kl_coef=0.0,
                              rollout_batch=32, minibatch_size=8, grad_accum=1, ppo_epochs=2)
    roll = ppo_loop.collect(policy, lm_tokenizer, pr * 8, reward, cfg, seed=3, contexts=ctx.repeat(8, 1))
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ppo_loop.ppo_update(policy, optimizer, roll, cfg, kl_coef=0.0, rng=rng)
    with torch.no_grad():
        new, _, _ = policy(roll.batch, cfg.temperature)
    weights = torch.softmax((new - roll.logprobs).sum(1), dim=0)          # (B,) pi_new / pi_old, normalised
    before, after = float(roll.scores.mean()), float((weights * roll.scores).sum())
    assert roll.scores.std() > 0
    assert after > before + 0.2 * float(roll.scores.std()), (before, after)
