OK_FORMAT = True

test = {   'name': 'q1_metrics',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': ">>> assert isinstance(hit_at_k([1, 2], 10), float) and isinstance(ndcg_at_k([1, 2], 10), float), 'return a Python float, e.g. float(x.mean())'\n"
                                               ">>> assert abs(hit_at_k([1, 10, 11], 10) - 2 / 3) < 1e-12, f'HR@10 of ranks [1, 10, 11] is 2/3 (rank 10 is a hit, rank 11 is not), got {hit_at_k([1, "
                                               "10, 11], 10)}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': ">>> assert abs(ndcg_at_k([1], 10) - 1.0) < 1e-12, 'a hit at rank 1 has gain 1 / log2(2) = 1'\n"
                                               ">>> assert abs(ndcg_at_k([2], 10) - 1 / np.log2(3)) < 1e-12, 'a hit at rank 2 has gain 1 / log2(3) ≈ 0.631'\n"
                                               ">>> assert ndcg_at_k([11], 10) == 0.0, 'NDCG@10 counts a hit at rank 11: only ranks 1..10 earn a gain'\n"
                                               ">>> assert abs(ndcg_at_k([1, 11], 10) - 0.5) < 1e-12, 'NDCG@k is a mean over events: the miss counts as 0'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
