"""Simulated users as gymnasium environments: batched over users with NumPy, seeded per user.

``session`` (observation, history, satiation, the KuaiEnv quit rule, the single-user
``UserEnv``), ``interest`` (RecSim-style interest evolution), ``grounded`` (users
whose click probabilities come from an MF model fitted to MovieLens or Last.fm),
``calibration`` (held-out pairs and Platt scaling) and ``policies`` (random,
most-popular, greedy, oracle; rollouts and common-random-number comparisons).
Importing this package loads NumPy, pandas and gymnasium; ``grounded`` also loads torch.

Taught in: sec-interest-evolution, sec-grounded-users, sec-online-a2c
"""
