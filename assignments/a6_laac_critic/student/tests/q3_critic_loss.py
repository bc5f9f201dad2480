OK_FORMAT = True

test = {   'name': 'q3_critic_loss',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _f = torch.tensor([[1.0, 2.0, 3.0]])\n'
                                               '>>> _pi = torch.tensor([[0.0, 0.0, 1.0]])\n'
                                               '>>> _l = critic_loss(_f, _pi, torch.tensor([0]), torch.tensor([0.0]), torch.tensor([[1]]), torch.tensor([[1.0]]), 1.0, 0.0)\n'
                                               ">>> assert _l.shape == () and torch.allclose(_l, torch.tensor(2.0)), f'pessimism: f(s, pi) - f(s, mu) = 3 - 2 = 1; Bellman: (f(s, a_D) - y)^2 = (1 - "
                                               "0)^2 = 1; anchor weight 0. Expected 2.0, got {float(_l):.4f}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _f = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)\n'
                                               '>>> _pi = torch.tensor([[0.0, 0.0, 1.0]], requires_grad=True)\n'
                                               '>>> _y = torch.tensor([5.0], requires_grad=True)\n'
                                               '>>> critic_loss(_f, _pi, torch.tensor([0]), _y, torch.tensor([[1]]), torch.tensor([[1.0]]), 1.0, 1.0).backward()\n'
                                               '>>> assert _pi.grad is None and _y.grad is None, "the actor\'s policy and the Bellman target are constants for the critic: detach them"\n'
                                               '>>> assert _f.grad is not None and _f.grad[0, 2] > 0, "relative pessimism pushes down the value of the actor\'s choice"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
