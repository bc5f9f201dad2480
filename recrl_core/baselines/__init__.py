"""Simple, strong baselines every results table includes (Ferrari Dacrema et al., RecSys 2019).

``popularity`` (most-popular items), ``itemknn`` (item-kNN on co-occurrence, cosine
with shrinkage), ``mf`` (implicit matrix factorisation by alternating least squares)
and ``interactions_matrix`` (the binary user-item matrix they share). Each is a
scorer for ``eval.offline``.

Taught in: sec-baselines
"""
