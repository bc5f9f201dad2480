OK_FORMAT = True

test = {   'name': 'q2_kl_k3',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _k = kl_k3(torch.log(torch.tensor([[0.5, 0.2]])), torch.log(torch.tensor([[0.25, 0.2]])))\n'
                                               ">>> assert _k.shape == (1, 2), 'return one estimate per token'\n"
                                               ">>> assert torch.allclose(_k, torch.tensor([[0.5 - 1 + torch.log(torch.tensor(2.0)).item(), 0.0]])), f'policy 0.5, reference 0.25: r = log(0.25/0.5), "
                                               "k3 = 0.5 - 1 + log 2 ≈ 0.193; equal probabilities give 0. Got {_k.tolist()} (a negative value means the sign of r is reversed)'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _lp = torch.log(torch.tensor([[0.9, 0.05, 0.3]]))\n'
                                               '>>> _ref = torch.log(torch.tensor([[0.1, 0.6, 0.3]]))\n'
                                               ">>> assert (kl_k3(_lp, _ref) >= 0).all(), 'k3 is never negative: e^r >= 1 + r for every r'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
