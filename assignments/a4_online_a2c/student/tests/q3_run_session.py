OK_FORMAT = True

test = {   'name': 'q3_run_session',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> _env = interest.InterestEnv(interest.InterestEnvConfig.for_mode(Mode.SMOKE))\n'
                                               '>>> _clicks, _length = run_session(_env, np.arange(100), seed=0)\n'
                                               ">>> assert 1 <= _length <= 100 and 0 <= _clicks <= _length, f'got clicks {_clicks}, length {_length}'\n"
                                               ">>> assert run_session(_env, np.arange(100), seed=0) == (_clicks, _length), 'the same seed must give the same session: pass seed to env.reset'\n"
                                               '>>> assert run_session(_env, np.arange(100), seed=1) != (_clicks, _length) or run_session(_env, np.arange(100), seed=2) != (_clicks, _length), '
                                               "'different seeds should give different sessions (a new user each time)'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': '>>> _env = interest.InterestEnv(interest.InterestEnvConfig.for_mode(Mode.SMOKE))\n'
                                               '>>> _, _full = run_session(_env, np.arange(100), seed=4)\n'
                                               '>>> _, _short = run_session(_env, np.arange(3), seed=4)\n'
                                               ">>> assert _short == min(3, _full), 'stop when the items of order run out, and count only the steps taken'\n"
                                               '>>> import dataclasses\n'
                                               '>>> _capped = interest.InterestEnv(dataclasses.replace(interest.InterestEnvConfig.for_mode(Mode.SMOKE), max_turn=2))\n'
                                               ">>> assert run_session(_capped, np.arange(100), seed=4)[1] <= 2, 'a session also ends at the turn limit (truncated), not only when the user leaves "
                                               "(terminated)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
