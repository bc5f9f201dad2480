"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_length_term": [
        ("no decline above the range", '''def length_term(texts, lo, hi):
    n = np.array([len(t.split()) for t in texts], dtype=float)
    return np.minimum(n / lo, 1.0)
'''),
        ("counts characters, not words", '''def length_term(texts, lo, hi):
    n = np.array([len(t) for t in texts], dtype=float)
    return np.interp(n, [0, lo, hi, 2 * hi], [0.0, 1.0, 1.0, 0.0], right=0.0)
'''),
    ],
    "q2_relevance_term": [
        ("no clipping: an opposite explanation is penalised instead of ignored", '''def relevance_term(expl, item, profile):
    return ((expl * item).sum(axis=1) + (expl * profile).sum(axis=1)) / 2
'''),
    ],
    "q3_project_out": [
        ("projects onto the span instead of out of it", '''def project_out(grad, basis):
    return (grad @ basis) @ basis.T
'''),
        ("projects along the item axis instead of the hidden axis", '''def project_out(grad, basis):
    return grad - basis @ (basis.T @ grad)
'''),
    ],
    "q4_overlap_at_k": [
        ("ordered top-k must match exactly (same_list, not overlap)", '''def overlap_at_k(before, after, k):
    top_b, top_a = before.topk(k, dim=1).indices, after.topk(k, dim=1).indices
    return float((top_b == top_a).all(dim=1).double().mean())
'''),
        ("bottom-k instead of top-k", '''def overlap_at_k(before, after, k):
    top_b, top_a = (-before).topk(k, dim=1).indices, (-after).topk(k, dim=1).indices
    return float(np.mean([len(set(b.tolist()) & set(a.tolist())) / k for b, a in zip(top_b, top_a)]))
'''),
    ],
}
