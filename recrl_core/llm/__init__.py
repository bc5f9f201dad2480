"""The only subpackage that imports transformers, peft, trl and sentence-transformers.

Generic language-model mechanics any method can use:

* ``models`` — load by name: SmolLM2 from its wheel, tiny random models, local/hub models;
* ``lora`` — attach adapters, count trainable parameters, reference = adapter off;
* ``prompts`` — chat-formatted prompt builders; ``generation`` — documented defaults,
  batched rollouts; ``logprobs`` — per-token log-probabilities and the value head;
* ``soft_prompt`` — k soft tokens computed from a context vector, injected at placeholders;
* ``candidates`` — score candidate items by likelihood, map text back to catalogue ids;
* ``embeddings`` — MiniLM sentence embeddings; ``cache`` — the on-disk cache of LLM outputs;
* ``token_tree`` — many continuations of one prefix in one forward pass (tree masks);
* ``trunk`` — a frozen trunk and an adapted top: lower layers computed once;
* ``trunk_rollout`` — PPO rollouts on a frozen trunk: prompts' lower layers cached, only the top rerun;
* ``trl_route`` — the same reward through trl's GRPO / RLOO;
* ``genre_task`` — Ch. 5's toy task: name the genre a user prefers.

Import it only in the LLM chapters: ``import recrl_core`` stays light.

Taught in: sec-lm-as-policy
"""
