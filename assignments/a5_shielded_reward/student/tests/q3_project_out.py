OK_FORMAT = True

test = {   'name': 'q3_project_out',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _q = torch.tensor([[1.0], [0.0], [0.0]])\n'
                                               '>>> _g = torch.tensor([[2.0, 3.0, 4.0], [1.0, 0.0, 0.0]])\n'
                                               '>>> _p = project_out(_g, _q)\n'
                                               ">>> assert _p.shape == (2, 3), 'return a gradient of the same (N, H) shape'\n"
                                               ">>> assert torch.allclose(_p, torch.tensor([[0.0, 3.0, 4.0], [0.0, 0.0, 0.0]])), f'only the e_1 component of each row is removed; got {_p.tolist()}. "
                                               "If whole rows vanished, you projected onto the span instead of out of it'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _g = torch.Generator().manual_seed(0)\n'
                                               '>>> _states = torch.randn(3, 6, generator=_g)\n'
                                               '>>> _basis = torch.linalg.qr(_states.T).Q\n'
                                               '>>> _W, _G = (torch.randn(10, 6, generator=_g), torch.randn(10, 6, generator=_g))\n'
                                               '>>> _after = _W - 0.5 * project_out(_G, _basis)\n'
                                               '>>> assert torch.allclose(_after @ _states.T, _W @ _states.T, atol=1e-05), "a step along the projected gradient must leave every protected user\'s '
                                               'scores unchanged"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
