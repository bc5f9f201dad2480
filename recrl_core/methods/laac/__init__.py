"""LAAC (Woo et al., 2025): an LLM as reference policy in an adversarial actor-critic — not written yet.

This package is where the method goes when its chapter is written: cached LLM
suggestions of novel items, a critic over the catalogue trained against the LLM's
reference policy with an anchor that keeps unexplored items' values near those of
well-estimated dataset actions, and a softmax actor. It holds no code yet; the
design, with what is known from the paper and what is this book's reconstruction,
is the appendix page spec-laac (book/appendix/laac.md). It will build on
``seqrec``, ``rl``, ``eval.metrics`` (beyond-accuracy metrics) and ``llm.candidates``.
"""
