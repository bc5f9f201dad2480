"""Shielded RecRL: explanations from an LM trained with PPO beside a ranker whose ranking must not move.

Modules:

* ``explanation_task`` — Ch. 7's task: the frozen SASRec ranker (cached), one event per
  user, prompts, the ranker context ``[h_u ; w_i]`` for the soft prompt, the user split,
  ``ExplainerConfig`` (with the chapter's ``PPOConfig``) and the ablation rows;
* ``shields`` — hard shield (freeze), projection shield, gradient probe, weight
  fingerprints and ranking drift;
* ``explanation_reward`` — the composite explanation reward (length, relevance, coherence,
  factuality), each term on [0, 1];
* ``click_model`` — the simulated reader: an explanation-aware click model with common
  random numbers, and relative CTR with a paired bootstrap;
* ``explainer_runs`` — one (variant, seed) run as a cached, picklable job: a fresh explainer
  trained with PPO on the frozen trunk and evaluated on the CTR users; seeds pooled.

The generic pieces it stands on live in the toolkits: the soft prompt
(``llm.soft_prompt``), LoRA, generation, frozen-trunk rollouts and log-probs (``llm``), the PPO losses
(``rl.ppo``) and loop (``train.ppo_loop``), the grounded users (``envs.grounded``).
Importing this package loads nothing; ``explanation_reward`` loads the LLM stack.

Spec: spec-shielded (book/appendix/shielded.md).
Taught in: sec-two-towers, sec-gradient-shield, sec-explanation-reward, sec-shielded-ctr, sec-shielded-ppo,
    sec-shielded-seeds, sec-shielded-ablations
"""
