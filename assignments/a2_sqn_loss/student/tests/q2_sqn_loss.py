OK_FORMAT = True

test = {   'name': 'q2_sqn_loss',
    'points': 4,
    'suites': [   {   'cases': [   {   'code': '>>> _logits = torch.tensor([[0.0, 0.0]])\n'
                                               '>>> _q = torch.tensor([[1.0, 0.0]], requires_grad=True)\n'
                                               '>>> _out = sqn_loss(_logits, _q, torch.tensor([0]), torch.tensor([1.0]), torch.tensor([1.0]), torch.zeros(1, 2), torch.zeros(1, 2), 0.5)\n'
                                               '>>> assert isinstance(_out, dict) and {\'loss\', \'supervised\', \'q\'} <= set(_out), \'return {"loss": ..., "supervised": ..., "q": ...}\'\n'
                                               ">>> assert torch.allclose(_out['supervised'], torch.log(torch.tensor(2.0))), 'two equal logits: the cross-entropy is log 2'\n"
                                               ">>> assert torch.allclose(_out['q'], torch.tensor(0.0)), 'Q(s, a) = 1 equals the target r = 1 at done = 1: the TD loss is 0'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _logits = torch.tensor([[0.0, 0.0]])\n'
                                               '>>> _q = torch.tensor([[3.0, 0.0]], requires_grad=True)\n'
                                               '>>> _out = sqn_loss(_logits, _q, torch.tensor([0]), torch.tensor([1.0]), torch.tensor([1.0]), torch.zeros(1, 2), torch.zeros(1, 2), 0.5)\n'
                                               '>>> assert torch.allclose(_out[\'q\'], torch.tensor(2.0)), f"L_q = 1/2 (y - Q)^2 = 1/2 (1 - 3)^2 = 2 (mind the 1/2); got {float(_out[\'q\'])}"\n'
                                               ">>> assert torch.allclose(_out['loss'], torch.log(torch.tensor(2.0)) + 2.0), 'loss = mean(L_s + L_q)'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _qm = torch.zeros(2, 3, requires_grad=True)\n'
                                               '>>> _out = sqn_loss(torch.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True), torch.tensor([0, 1]), torch.ones(2), torch.zeros(2), '
                                               '_qm, _qm + 1.0, 0.9)\n'
                                               ">>> _out['loss'].backward()\n"
                                               ">>> assert _qm.grad is None or float(_qm.grad.abs().sum()) == 0.0, 'gradient flows into the target y: detach it (the target is a constant in the TD "
                                               "loss)'\n"
                                               ">>> assert _out['supervised'].grad_fn is None and _out['q'].grad_fn is None, 'the logged parts must be detached'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
