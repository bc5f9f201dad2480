OK_FORMAT = True

test = {   'name': 'q2_a2c_loss',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _out = a2c_loss(torch.zeros(1, 4), torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([2]), torch.tensor([1.0]), torch.tensor([1.0]), 0.9, '
                                               '0.0)\n'
                                               '>>> assert isinstance(_out, dict) and \'loss\' in _out and (\'entropy\' in _out), \'return {"loss": ..., "entropy": ...}\'\n'
                                               ">>> assert torch.allclose(_out['entropy'], torch.log(torch.tensor(4.0))), 'uniform over 4 items: entropy log 4'\n"
                                               '>>> assert torch.allclose(_out[\'loss\'], torch.log(torch.tensor(4.0)) * 1.0 + 1.0), f"delta = 1: policy term -log(1/4) * 1 = log 4, critic term 1^2 = '
                                               '1; got {float(_out[\'loss\']):.4f}"\n',
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _out = a2c_loss(torch.zeros(1, 4), torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([2]), torch.tensor([0.0]), torch.tensor([1.0]), 0.9, '
                                               '0.5)\n'
                                               ">>> assert torch.allclose(_out['loss'], -0.5 * torch.log(torch.tensor(4.0))), 'delta = 0 leaves only the entropy bonus: loss = -beta_H * H = -0.5 * "
                                               "log 4 (mind the sign: the bonus lowers the loss)'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _logits = torch.zeros(1, 3, requires_grad=True)\n'
                                               '>>> _v = torch.tensor([0.0], requires_grad=True)\n'
                                               ">>> a2c_loss(_logits, _v, torch.tensor([0.0]), torch.tensor([0]), torch.tensor([1.0]), torch.tensor([1.0]), 0.9, 0.0)['loss'].backward()\n"
                                               '>>> assert torch.allclose(_v.grad, torch.tensor([-2.0])), "the critic\'s gradient comes from delta^2 only (d/dV of (1 - V)^2 at V = 0 is -2): detach '
                                               'delta in the policy term"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
