OK_FORMAT = True

test = {   'name': 'q4_overlap_at_k',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _b = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])\n'
                                               '>>> _a = torch.tensor([[4.0, 5.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0]])\n'
                                               '>>> _o = overlap_at_k(_b, _a, 2)\n'
                                               ">>> assert isinstance(_o, float), 'return a Python float'\n"
                                               '>>> assert abs(_o - 1.0) < 1e-12, f"user 0\'s top 2 swap places but stay the same set; user 1 is unchanged: overlap 1.0, got {_o}"\n',
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _b = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])\n'
                                               '>>> _a = torch.tensor([[5.0, 1.0, 4.0, 2.0, 3.0], [5.0, 4.0, 3.0, 2.0, 1.0]])\n'
                                               ">>> assert abs(overlap_at_k(_b, _a, 2) - 0.25) < 1e-12, 'user 0 keeps 1 of its top 2 (1/2), user 1 keeps none (0): the mean over users is 0.25'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
