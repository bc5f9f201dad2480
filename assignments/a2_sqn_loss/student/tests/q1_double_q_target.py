OK_FORMAT = True

test = {   'name': 'q1_double_q_target',
    'points': 4,
    'suites': [   {   'cases': [   {   'code': '>>> _main = torch.tensor([[0.0, 3.0, 1.0]])\n'
                                               '>>> _tgt = torch.tensor([[5.0, 2.0, 7.0]])\n'
                                               '>>> _y = double_q_target(torch.tensor([1.0]), torch.tensor([0.0]), _main, _tgt, 0.5)\n'
                                               ">>> assert isinstance(_y, torch.Tensor) and _y.shape == (1,), 'return a (B,) tensor'\n"
                                               ">>> assert torch.allclose(_y, torch.tensor([2.0])), f'main picks item 1 (Q 3.0), the target network values it at 2.0: y = 1 + 0.5 * 2 = 2.0; got "
                                               "{_y.tolist()}. A result of 4.5 means the target network chose the action itself (max of the target Q-values).'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _main = torch.tensor([[0.0, 3.0, 1.0]])\n'
                                               '>>> _tgt = torch.tensor([[5.0, 2.0, 7.0]])\n'
                                               '>>> _y = double_q_target(torch.tensor([1.0]), torch.tensor([1.0]), _main, _tgt, 0.5)\n'
                                               ">>> assert torch.allclose(_y, torch.tensor([1.0])), f'at the end of a sequence (done = 1) the target is the reward alone; got {_y.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
