OK_FORMAT = True

test = {   'name': 'q1_td_error',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _d = td_error(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([0.5, 0.5]), torch.tensor([2.0, 2.0]), 0.9)\n'
                                               ">>> assert _d.shape == (2,), 'return one TD error per transition'\n"
                                               ">>> assert torch.allclose(_d, torch.tensor([1.0 + 0.9 * 2.0 - 0.5, 1.0 - 0.5])), f'expected [2.3, 0.5]: no bootstrap after the user left (done = 1); "
                                               "got {_d.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _v = torch.tensor([0.5], requires_grad=True)\n'
                                               '>>> _nv = torch.tensor([2.0], requires_grad=True)\n'
                                               '>>> td_error(torch.tensor([1.0]), torch.tensor([0.0]), _v, _nv, 0.9).sum().backward()\n'
                                               ">>> assert _nv.grad is None, 'the bootstrap V(s_{t+1}) is a constant: detach it'\n"
                                               ">>> assert _v.grad is not None and torch.allclose(_v.grad, torch.tensor([-1.0])), 'the gradient flows through V(s_t)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
