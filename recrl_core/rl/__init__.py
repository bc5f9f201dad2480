"""Reinforcement-learning pieces: TD targets, double-Q plumbing and the SQN-family losses.

``targets`` (TD and double-Q targets), ``double_q`` (two networks with random
main/target roles), ``sqn`` (SQN and SAC), ``sa2c`` (SNQN and SA2C). Losses
are pure functions of tensors; the training loops live in ``recrl_core.train``.

Taught in: sec-recommendation-as-mdp, sec-sqn-sac, sec-snqn-sa2c
"""
