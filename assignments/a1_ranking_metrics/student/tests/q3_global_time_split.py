OK_FORMAT = True

test = {   'name': 'q3_global_time_split',
    'points': 4,
    'suites': [   {   'cases': [   {   'code': ">>> _f = pd.DataFrame({'user': [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 'time': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, index=list('abcdefghij'))\n"
                                               '>>> _lab = global_time_split(_f, 0.2, 0.2)\n'
                                               '>>> assert isinstance(_lab, pd.Series) and list(_lab.index) == list(_f.index), "return a Series with the frame\'s index"\n'
                                               '>>> assert set(_lab) <= {\'train\', \'val\', \'test\'}, f"labels must be \'train\', \'val\' or \'test\', got {set(_lab)}"\n',
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': ">>> _f = pd.DataFrame({'user': [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 'time': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})\n"
                                               '>>> _lab = global_time_split(_f, 0.2, 0.2)\n'
                                               ">>> assert _f['time'][_lab == 'train'].max() < _f['time'][_lab == 'test'].min(), 'leakage: a training event happens after a test event — split on the "
                                               "global timeline, not per user'\n"
                                               ">>> assert _lab.tolist() == ['train'] * 6 + ['val'] * 2 + ['test'] * 2, f'times 1..10 with 20 % validation and 20 % test: 6 train, 2 val, 2 test; got "
                                               "{_lab.tolist()}'\n",
                                       'hidden': False,
                                       'locked': False},
                                   {   'code': ">>> _f = pd.DataFrame({'time': [5, 1, 9, 3, 7, 2, 10, 4, 8, 6]}, index=list('abcdefghij'))\n"
                                               ">>> _sorted = global_time_split(_f.sort_values('time'), 0.2, 0.2)\n"
                                               '>>> assert global_time_split(_f, 0.2, 0.2).loc[_sorted.index].tolist() == _sorted.tolist(), "the labels must depend on each event\'s time, not on the '
                                               'row order"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
