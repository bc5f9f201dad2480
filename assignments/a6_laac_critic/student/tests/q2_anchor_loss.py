OK_FORMAT = True

test = {   'name': 'q2_anchor_loss',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _f = torch.tensor([[0.0, 1.0, 3.0, 0.5]])\n'
                                               '>>> _l = anchor_loss(_f, torch.tensor([1]), torch.tensor([[2, 3]]), torch.tensor([[0.5, 0.5]]))\n'
                                               ">>> assert _l.shape == () and torch.allclose(_l, torch.tensor(2.0)), f'logged item 1 has f = 1. Suggestion 2 (f = 3) is 2 above it: 0.5 * 2^2 = 2. "
                                               "Suggestion 3 (f = 0.5) is below it and adds nothing (hinge). Expected 2.0, got {float(_l):.4f}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _f = torch.tensor([[0.0, 1.0, 3.0, 0.5]])\n'
                                               '>>> _pad = anchor_loss(_f, torch.tensor([1]), torch.tensor([[2, -1]]), torch.tensor([[0.5, 0.7]]))\n'
                                               ">>> assert torch.allclose(_pad, torch.tensor(2.0)), 'padding (-1) must add nothing, whatever its weight'\n"
                                               '>>> _f2 = torch.tensor([[0.0, 1.0, 3.0, 0.5]], requires_grad=True)\n'
                                               '>>> anchor_loss(_f2, torch.tensor([1]), torch.tensor([[2]]), torch.tensor([[1.0]])).backward()\n'
                                               '>>> assert _f2.grad[0, 1] == 0 and _f2.grad[0, 2] > 0, "the logged item\'s value is a constant (detach it): only the suggestion\'s value takes a '
                                               'gradient"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
