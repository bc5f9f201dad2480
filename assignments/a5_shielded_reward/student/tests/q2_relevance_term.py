OK_FORMAT = True

test = {   'name': 'q2_relevance_term',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _e = np.array([[1.0, 0.0], [1.0, 0.0]])\n'
                                               '>>> _i = np.array([[1.0, 0.0], [-1.0, 0.0]])\n'
                                               '>>> _p = np.array([[0.0, 1.0], [0.6, 0.8]])\n'
                                               '>>> _r = relevance_term(_e, _i, _p)\n'
                                               ">>> assert _r.shape == (2,), 'return one value per row (sum over the embedding axis only)'\n"
                                               ">>> assert np.allclose(_r, [0.5, 0.3]), f'row 0: (1 + 0) / 2 = 0.5; row 1: the cosine -1 is clipped to 0, so (0 + 0.6) / 2 = 0.3; got {_r.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
