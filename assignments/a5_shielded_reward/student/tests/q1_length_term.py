OK_FORMAT = True

test = {   'name': 'q1_length_term',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> _t = ['one two', 'w ' * 20, 'w ' * 30, 'w ' * 60, 'w ' * 100]\n"
                                               '>>> _l = length_term(_t, 20, 40)\n'
                                               ">>> assert isinstance(_l, np.ndarray) and _l.shape == (5,), 'return a (B,) array'\n"
                                               ">>> assert np.allclose(_l, [0.1, 1.0, 1.0, 0.5, 0.0]), f'range [20, 40]: 2 words -> 0.1, 20 and 30 -> 1, 60 -> 0.5 (halfway from 40 to 80), 100 -> 0; "
                                               "got {_l.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
