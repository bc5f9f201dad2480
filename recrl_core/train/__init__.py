"""Training loops and checkpoints shared by the chapters.

``loops`` (cross-entropy and the SQN family over a replay buffer, with validation-based
model selection and exact resume), ``sequence_ce`` (next-item cross-entropy at every
position of a window, as the SASRec paper trains), ``online`` (online A2C against a vectorised
simulator), ``ppo_loop`` (token-level PPO for a language model: rollout, per-token
rewards, GAE, clipped epochs; the losses live in ``rl.ppo``), ``grpo_loop`` (GRPO on the
same sampler and frozen trunk; losses in ``rl.grpo``) and ``checkpoint``
(safetensors + JSON folders that resume a run exactly); ``parallel`` runs independent
jobs (seeds) in worker processes with one torch thread each, ``learner_runs`` makes
Chapter 4's runs such jobs, and ``grids`` spreads a grid of runs over the processes of an
``accelerate launch`` with one result file per run.

Taught in: sec-next-item-task, sec-sqn-sac, sec-online-a2c, sec-ppo-from-scratch,
sec-grpo-same-engine
"""
