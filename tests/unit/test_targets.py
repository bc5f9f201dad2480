"""TD and double-Q targets against hand arithmetic (spec-sqn)."""

import torch

from recrl_core.rl import targets

# Main picks item 1 in row 0 and item 0 in row 1; the target net's own argmax is 0 and 1.
Q_NEXT_MAIN = torch.tensor([[1.0, 3.0, 2.0], [0.5, 0.1, 0.2]])
Q_NEXT_TARGET = torch.tensor([[4.0, 0.5, 1.0], [0.3, 2.0, 0.6]])
REWARD = torch.tensor([0.2, 1.0])


def test_td_target_discounts_and_masks_terminal_rows():
    y = targets.td_target(torch.tensor([1.0, 0.2]), torch.tensor([0.0, 1.0]),
                          torch.tensor([2.0, 4.0]), gamma=0.5)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.5 * 2.0, 0.2]))


def test_double_q_target_selects_with_main_and_values_with_target():
    y = targets.double_q_target(REWARD, torch.zeros(2), Q_NEXT_MAIN, Q_NEXT_TARGET, gamma=0.5)
    # row 0: a* = 1 (main), Q_tgt[1] = 0.5 -> 0.2 + 0.5 * 0.5 = 0.45
    #        (max of target would give 2.2, the main net's own value 1.7)
    # row 1: a* = 0 (main), Q_tgt[0] = 0.3 -> 1.0 + 0.5 * 0.3 = 1.15
    torch.testing.assert_close(y, torch.tensor([0.45, 1.15]))


def test_done_zeroes_the_bootstrap():
    y = targets.double_q_target(REWARD, torch.tensor([0.0, 1.0]), Q_NEXT_MAIN, Q_NEXT_TARGET, gamma=0.5)
    torch.testing.assert_close(y, torch.tensor([0.45, 1.0]))


def test_gamma_zero_is_the_reward():
    y = targets.double_q_target(REWARD, torch.zeros(2), Q_NEXT_MAIN, Q_NEXT_TARGET, gamma=0.0)
    torch.testing.assert_close(y, REWARD)
