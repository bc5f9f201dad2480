"""Token-level PPO on a tiny random LM: statistics, learning signal, exact resume; GRPO on the same engine."""

import dataclasses

import numpy as np
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.llm import lora, prompts, trunk_rollout
from recrl_core.rl import grpo, ppo
from recrl_core.train import grpo_loop, ppo_loop

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


# ---- GRPO: group advantages, its loss, and the loop on PPO's sampler and trunk (train.grpo_loop)

def test_group_advantages_by_hand():
    scores = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])      # two groups of 4
    adv = grpo.group_advantages(scores, 4)
    s = np.std([1, 0, 0, 1], ddof=1)                                      # 0.5774: the unbiased std, as trl
    expected = [(0.5 / (s + 1e-4)), -0.5 / (s + 1e-4), -0.5 / (s + 1e-4), 0.5 / (s + 1e-4), 0, 0, 0, 0]
    assert torch.allclose(adv, torch.tensor(expected, dtype=torch.float32), atol=1e-6)
    with pytest.raises(ValueError, match="divide"):
        grpo.group_advantages(scores, 3)


def test_grpo_loss_by_hand_and_its_kl_gradient():
    """Two replies: one with a clipped token, one with a padded token. The loss is the clipped surrogate
    (each reply's advantage on its tokens) plus beta times the mean k3, both over the valid tokens only."""
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -2.4], [-0.7, -9.0]])          # ratios e^0.1, e^0.4 (clipped at 1.2), e^0.2
    ref = torch.tensor([[-1.5, -1.0], [-0.4, -9.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])              # reply 2's second token is padding
    adv = torch.tensor([2.0, -1.0])
    loss, stats = grpo.grpo_loss(logp, old, ref, adv, mask, clip_range=0.2, beta=0.5)
    ratio = np.exp([0.1, 0.4, 0.2])                            # the 3 valid tokens
    a = np.array([2.0, 2.0, -1.0])
    surrogate = -np.mean(np.minimum(ratio * a, np.clip(ratio, 0.8, 1.2) * a))
    r = np.array([-0.5, 1.0, 0.1])                             # ref - logp on the valid tokens
    k3 = np.mean(np.exp(r) - 1 - r)
    assert loss.item() == pytest.approx(surrogate + 0.5 * k3, rel=1e-6)
    assert stats["losses/kl"].item() == pytest.approx(k3, rel=1e-6)
    assert stats["ppo/clipfrac"].item() == pytest.approx(1 / 3)
    loss.backward()
    # d/dlogp: surrogate -A * ratio where unclipped (0 where the clip is active), k3 1 - exp(ref - logp); / 3 tokens
    grad = (np.array([-2.0 * ratio[0], 0.0, 1.0 * ratio[2]]) + 0.5 * (1 - np.exp(r))) / 3
    got = logp.grad.numpy()
    assert np.allclose([got[0, 0], got[0, 1], got[1, 0]], grad, atol=1e-6) and got[1, 1] == 0


def test_groups_are_distinct_prompts_each_repeated():
    idx = grpo_loop.pick_groups(np.random.default_rng(0), 10, CFG, group_size=4)
    assert len(idx) == CFG.rollout_batch and len(set(idx[::4])) == 2
    assert (idx.reshape(-1, 4) == idx[::4, None]).all()
    with pytest.raises(ValueError, match="divide"):
        grpo_loop.pick_groups(np.random.default_rng(0), 10, CFG, group_size=3)


def test_one_grpo_update_moves_probability_towards_the_better_reply_of_each_group(tiny_lm, lm_tokenizer):
    """After one update, replies above their group's mean gained log-probability relative to those below;
    with the advantage sign flipped (a broken loss) the test fails."""
    cfg = dataclasses.replace(CFG, rollout_batch=16, lr=3e-3, kl_coef=0.0)
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=8))
    chosen = [p for p in _prompts(lm_tokenizer)[:2] for _ in range(8)]         # 2 groups of 8
    roll = ppo_loop.collect(policy, lm_tokenizer, chosen, _reward, cfg, seed=7)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    stats = grpo_loop.grpo_update(policy, optimizer, roll, cfg, 8, np.random.default_rng(0))
    assert abs(stats["objective/kl"]) < 1e-6                                        # sampled from the reference
    zero = np.mean([float(g.min() == g.max()) for g in roll.scores.view(2, 8)])
    assert stats["grpo/frac_zero_std"] == zero and "objective/non_score_reward" not in stats
    with torch.no_grad():
        after, _, _ = policy(roll.batch, cfg.temperature)
    gain = (after - roll.logprobs).sum(1)                                       # (B,) change of log pi(y|x)
    adv = grpo.group_advantages(roll.scores, 8)
    assert gain[adv > 0].mean() > gain[adv < 0].mean() + 0.01, (gain, adv)
    assert all(p.grad is None for p in policy.value_head.parameters())            # the value head is never used


def test_a_grpo_update_on_the_trunk_equals_the_update_on_the_whole_model(tiny_lm, lm_tokenizer):
    """One rollout sampled on the frozen trunk, learned from twice by copies of one policy: once through
    the cached trunk (top layer only), once through the whole model. Same statistics, same new weights."""
    cfg = dataclasses.replace(CFG, rollout_batch=8, kl_coef=0.1)
    lora_cfg, split = lora.on_top_layers(lora.LoRAConfig(r=4), tiny_lm.config.num_hidden_layers, 1)
    policies = []
    for _ in range(2):
        lm = type(tiny_lm)(tiny_lm.config)
        lm.load_state_dict(tiny_lm.state_dict())
        policies.append(ppo_loop.make_policy(lm, lora_cfg, seed=0))
    chosen = [p for p in _prompts(lm_tokenizer)[:2] for _ in range(4)]
    roll = ppo_loop.collect(policies[0], lm_tokenizer, chosen, _reward, cfg, seed=3,
                            trunks=trunk_rollout.PromptTrunks(lm_tokenizer, split))
    assert roll.trunk is not None
    stats = []
    for policy, rollout in zip(policies, [roll, dataclasses.replace(roll, trunk=None)]):
        optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
        stats.append(grpo_loop.grpo_update(policy, optimizer, rollout, cfg, 4, np.random.default_rng(0)))
    assert stats[0]["losses/policy"] == pytest.approx(stats[1]["losses/policy"], abs=1e-5)
    assert stats[0]["losses/kl"] > 0
    assert stats[0]["losses/kl"] == pytest.approx(stats[1]["losses/kl"], rel=1e-3)
    for (name, a), b in zip(policies[0].named_parameters(), policies[1].parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def test_fit_grpo_logs_one_round_per_update_and_moves_only_the_adapter(tiny_lm, lm_tokenizer):
    cfg = dataclasses.replace(CFG, updates=2, rollout_batch=8)
    policy = ppo_loop.make_policy(tiny_lm, lora.LoRAConfig(r=4))
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    history = grpo_loop.fit_grpo(policy, lm_tokenizer, _prompts(lm_tokenizer), _reward, cfg, group_size=4,
                                 progress=False)
    assert [h["step"] for h in history] == [0, 1]
    assert all(np.isfinite(v) for h in history for v in h.values())
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all("lora_" in n for n in moved)                       # the value head is never trained
