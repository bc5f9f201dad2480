"""recrl_core: the tested library behind the book *LLM-enhanced RL for recommender systems*.

Importing the package is cheap on purpose: it loads no torch, transformers or
matplotlib, sets no global state and seeds nothing. Import submodules explicitly,
e.g. ``from recrl_core.eval import metrics``.

The house map, lowest layer first (a module imports only its own package and lower
layers; the book's appendix page "Code map" says which chapter uses what):

* ``hardware``, ``seeding``, ``plotting``, ``progress``, ``distributed`` — device choice, seeds, the
  book's plot style, progress bars, data parallelism over processes (``accelerate``);
* ``config`` — the run mode (``RECRL_MODE``) and the project's folders;
* ``data/`` — datasets into one interaction schema, splits, sequences, transitions;
* ``caching``, ``results`` — cache keys and the safetensors cache; run provenance;
* ``eval/``, ``seqrec/``, ``baselines/`` — metrics and full ranking; sequential encoders
  and heads; popularity, item-kNN and ALS;
* ``rl/``, ``llm/``, ``envs/`` — RL losses; language models (the only place importing
  transformers/peft/trl); simulated users;
* ``train/`` — training loops (supervised, SQN family, online A2C, PPO for LMs), checkpoints;
* ``methods/`` — one package per seed paper (``shielded``, ``lea``; ``ialp``, ``laac`` to come);
* ``notebook`` — the setup cell of every chapter.
"""

__version__ = "0.1.0"
