"""Offline evaluation: full-catalogue ranking and metrics.

``ranking`` (batched full ranks and top-k, history masking), ``metrics`` (HR, NDCG,
MRR, cumulative reward; coverage, ILD, novelty, repetitions; AUC), ``offline``
(``evaluate`` any scorer on evaluation events, sampled-metric variant for comparison) and
``intervals`` (a mean over seeds or users with its Student-t interval and verdict, and the
users a paired test would need).

Spec: spec-evaluation, spec-beyond-accuracy.
Taught in: sec-metrics, sec-sampled-vs-full, sec-beyond-accuracy
"""
