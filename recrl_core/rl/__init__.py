"""Reinforcement-learning pieces: TD targets, double-Q plumbing, SQN-family, PPO, GRPO and A2C losses.

``targets`` (TD and double-Q targets), ``double_q`` (two networks with random
main/target roles; ``make_pair``, the SQN family's networks), ``sqn`` (SQN and SAC), ``sa2c`` (SNQN and SA2C); for language
models ``kl`` (k1/k3 estimators), ``advantages`` (GAE, whitening) and ``ppo``
(per-token rewards, clipped policy and value losses, KL controllers), ``grpo`` (group
advantages, the clipped loss with the k3 KL in it); for online
learning in simulators ``actor_critic`` (A2C loss, the item actor-critic network).
Losses are pure functions of tensors; the training loops live in ``recrl_core.train``;
what belongs to one paper (LEA's augmented losses, Shielded RecRL's reward) lives in ``recrl_core.methods``.

Taught in: sec-recommendation-as-mdp, sec-sqn-sac, sec-snqn-sa2c, sec-kl-penalty,
sec-ppo-from-scratch, sec-grpo-same-engine, sec-online-a2c
"""
