OK_FORMAT = True

test = {   'name': 'q4_response_logprobs',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> _ = torch.manual_seed(0)\n'
                                               '>>> _lm = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_embd=16, n_layer=2, n_head=2, n_positions=32)).eval()\n'
                                               '>>> _ids = torch.randint(0, 40, (2, 7))\n'
                                               '>>> with torch.no_grad():\n'
                                               '...     _out = response_logprobs(_lm, _ids, 4)\n'
                                               '...     _first = torch.log_softmax(_lm(_ids).logits[:, 3], dim=-1)[torch.arange(2), _ids[:, 4]]\n'
                                               ">>> assert _out.shape == (2, 3), f'prompt 4 + response 3 tokens: expected (2, 3), got {tuple(_out.shape)}'\n"
                                               '>>> assert torch.allclose(_out[:, 0], _first, atol=1e-05), "off by one: the first response token (position 4) is predicted by the logits at position '
                                               '3, the prompt\'s last"\n'
                                               ">>> assert (_out <= 0).all(), 'log-probabilities are <= 0: use log_softmax over the vocabulary'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
