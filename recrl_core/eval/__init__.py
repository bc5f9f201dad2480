"""Offline evaluation: full-catalogue ranking and metrics.

``ranking`` (batched full ranks and top-k, history masking), ``metrics`` (HR, NDCG,
MRR, cumulative reward; coverage, ILD, novelty, repetitions; AUC) and ``offline``
(``evaluate`` any scorer on evaluation events, sampled-metric variant for comparison).

Spec: spec-evaluation, spec-beyond-accuracy.
Taught in: sec-metrics, sec-sampled-vs-full, sec-beyond-accuracy
"""
