"""LEA: an adapted LLM as environment (state model, reward model, augmented actions) for SQN/SA2C.

Modules, in pipeline order:

* ``item_tokens`` — stage 1: one learned input embedding per item, trained on its text
  with the LM frozen;
* ``environment`` — stage 2: the LLM environment (LE), LoRA adapters with a state
  projection, an action projection and a reward head, trained with L_SM + λ L_RM on
  tree-masked token batches over a frozen trunk;
* ``environment_eval`` — the LE judged on its own (reward-model pairs, state-model
  ranking) beside popularity;
* ``offline_pass`` — stage 3: LE states, LE rewards and augmented actions for every
  training transition, cached;
* ``fusion`` — the distilled student of the LE state and its residual fusion into the
  backbone (serving never calls the LLM);
* ``learner`` — stage 4: ``LEAConfig``, LE outputs on the replay rows, the augmented
  losses, and SQN/SA2C training through ``train.loops.fit_rl``;
* ``lea_task`` — Ch. 8's datasets, item text, the cached build of stages 1–2 and the
  ablation grid's config.
* ``grid`` — one cell of the ablation grid per picklable job (``train.parallel.map_jobs``).

Generic LLM mechanics it uses stay in ``llm`` (``token_tree``, ``trunk``, ``lora``,
``models``).

Spec: spec-lea (book/appendix/lea.md).
Taught in: sec-llm-environment, sec-lea-grid
"""
