"""iALP / A-iALP (Wang et al., WSDM 2025): an LLM-distilled policy that adapts online — not written yet.

This package is where the method goes when its chapter is written: LLM preference
labels over candidate items (cached), a reward model fitted to them, iALP
pre-training of an actor-critic without touching the simulator, and the online
variants A-iALP_ft (fine-tuning) and A-iALP_ap (a frozen pre-trained policy mixed
with an online one). It holds no code yet; the design, with what is known from the
paper and what is this book's reconstruction, is the appendix page spec-ialp
(book/appendix/ialp.md). It will build on ``rl.actor_critic``, ``train.online``,
``envs`` and ``llm.candidates``.
"""
