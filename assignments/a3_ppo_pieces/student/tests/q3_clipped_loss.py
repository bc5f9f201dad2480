OK_FORMAT = True

test = {   'name': 'q3_clipped_loss',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _lp = torch.log(torch.tensor([[1.5, 0.5]]))\n'
                                               '>>> _loss = clipped_policy_loss(_lp, torch.zeros(1, 2), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2), 0.2)\n'
                                               ">>> assert _loss.shape == (), 'return a scalar'\n"
                                               ">>> assert torch.allclose(_loss, torch.tensor(-(1.2 + 0.5) / 2)), f'ratio 1.5 with A = +1 is clipped to 1.2; ratio 0.5 with A = +1 keeps 0.5 (min "
                                               "takes the unclipped value); loss = -(1.2 + 0.5) / 2 = -0.85, got {float(_loss):.4f}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _lp = torch.log(torch.tensor([[0.5, 3.0]]))\n'
                                               '>>> _loss = clipped_policy_loss(_lp, torch.zeros(1, 2), torch.tensor([[-1.0, 5.0]]), torch.tensor([[1.0, 0.0]]), 0.2)\n'
                                               ">>> assert torch.allclose(_loss, torch.tensor(0.8)), f'negative advantage: ratio 0.5 is clipped to 0.8, min(-0.5, -0.8) = -0.8, loss 0.8; the padded "
                                               "token must not count (mean over valid tokens only); got {float(_loss):.4f}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _lp = torch.zeros(1, 2, requires_grad=True)\n'
                                               '>>> _old = torch.zeros(1, 2, requires_grad=True)\n'
                                               '>>> _adv = torch.ones(1, 2, requires_grad=True)\n'
                                               '>>> clipped_policy_loss(_lp, _old, _adv, torch.ones(1, 2), 0.2).backward()\n'
                                               ">>> assert _lp.grad is not None and _old.grad is None and (_adv.grad is None), 'only the current log-probs take a gradient: detach old_logprobs and "
                                               "advantages'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
