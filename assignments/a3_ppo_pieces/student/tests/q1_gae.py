OK_FORMAT = True

test = {   'name': 'q1_gae',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _r = torch.tensor([[0.0, 0.0, 1.0]])\n'
                                               '>>> _v = torch.tensor([[0.5, 0.5, 0.5]])\n'
                                               '>>> _a, _R = gae(_r, _v, torch.ones(1, 3), 1.0, 1.0)\n'
                                               ">>> assert _a.shape == (1, 3) and _R.shape == (1, 3), 'return (advantages, returns), both (B, T)'\n"
                                               ">>> assert torch.allclose(_a, torch.tensor([[0.5, 0.5, 0.5]])), f'gamma = lambda = 1: every advantage is the final reward 1 minus V = 0.5; got "
                                               "{_a.tolist()}'\n"
                                               ">>> assert torch.allclose(_R, torch.tensor([[1.0, 1.0, 1.0]])), 'returns are A_t + V(t)'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _r = torch.tensor([[0.0, 1.0, 9.0]])\n'
                                               '>>> _v = torch.tensor([[0.0, 0.0, 7.0]])\n'
                                               '>>> _a, _R = gae(_r, _v, torch.tensor([[1.0, 1.0, 0.0]]), 0.9, 0.5)\n'
                                               ">>> assert torch.allclose(_a, torch.tensor([[0.45, 1.0, 0.0]])), f'padding: V and A are 0 after the last valid token, and the padded reward 9 and "
                                               "value 7 must be ignored; expected [[0.45, 1.0, 0.0]], got {_a.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
