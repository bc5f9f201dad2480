OK_FORMAT = True

test = {   'name': 'q2_full_ranks',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _s = torch.tensor([[0.1, 0.9, 0.5, 0.3]])\n'
                                               '>>> _none = torch.zeros(1, 4, dtype=torch.bool)\n'
                                               '>>> _r = full_ranks(_s, torch.tensor([2]), _none)\n'
                                               ">>> assert isinstance(_r, torch.Tensor) and _r.shape == (1,), 'return a (B,) tensor of ranks'\n"
                                               ">>> assert _r.tolist() == [2], f'item 2 (score 0.5) is beaten only by item 1 (0.9): rank 2, got {_r.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _s = torch.tensor([[0.1, 0.9, 0.5, 0.3]])\n'
                                               '>>> _seen = torch.tensor([[False, True, False, False]])\n'
                                               ">>> assert full_ranks(_s, torch.tensor([2]), _seen).tolist() == [1], 'a seen item must not outrank the target: set seen scores to -inf before "
                                               "counting'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _tie = torch.tensor([[0.5, 0.5, 0.5, 0.1]])\n'
                                               '>>> _none = torch.zeros(1, 4, dtype=torch.bool)\n'
                                               '>>> assert full_ranks(_tie, torch.tensor([1]), _none).tolist() == [2], "ties: count a tied item only if its index is lower than the target\'s (item 0 '
                                               'ties with item 1 and comes first)"\n'
                                               ">>> assert full_ranks(_tie, torch.tensor([0]), _none).tolist() == [1], 'ties: an item tied at a higher index does not count'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
