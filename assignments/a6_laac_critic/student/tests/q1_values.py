OK_FORMAT = True

test = {   'name': 'q1_values',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _f = torch.tensor([[1.0, 2.0, 3.0, 4.0]])\n'
                                               ">>> assert torch.allclose(policy_value(torch.tensor([[0.5, 0.0, 0.5, 0.0]]), _f), torch.tensor([2.0])), 'f(s, pi) = 0.5 * 1 + 0.5 * 3 = 2'\n"
                                               '>>> _v = reference_value(_f, torch.tensor([[3, 1, -1]]), torch.tensor([[0.5, 0.5, 0.0]]))\n'
                                               ">>> assert _v.shape == (1,) and torch.allclose(_v, torch.tensor([3.0])), f'mu puts 0.5 on item 3 (f = 4) and 0.5 on item 1 (f = 2): f(s, mu) = 3; got "
                                               "{_v.tolist()}. An IndexError means the padding id -1 was used as an index: clamp it to a valid id (its weight is 0)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
