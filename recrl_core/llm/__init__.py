"""The only subpackage that imports transformers, peft, trl and sentence-transformers.

``models`` (load by name; SmolLM2 from its wheel; tiny random models), ``lora``
(attach, trainable fraction, reference = adapter off), ``prompts`` (chat
template), ``generation`` (documented defaults, batched rollouts), ``logprobs``
(per-token log-probabilities, value head), ``candidates`` (scoring items by
likelihood, mapping text back to catalogue ids), ``embeddings`` (MiniLM),
``cache`` (atomic on-disk cache of LLM outputs) and ``trl_route`` (GRPO/RLOO).
Import it only in the LLM chapters: ``import recrl_core`` stays light.

Taught in: sec-lm-as-policy
"""
