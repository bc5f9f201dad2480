"""k1 and k3 KL estimators by hand, their sign behaviour and their unbiasedness (spec-llm-conventions)."""

import math

import torch

from recrl_core.rl import kl

LOGPROBS = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]])
REF = torch.tensor([[-1.5, -1.0], [-0.5, -2.0]])


def test_k1_by_hand():
    torch.testing.assert_close(kl.kl_k1(LOGPROBS, REF), torch.tensor([[0.5, -1.0], [0.0, -1.0]]))


def test_k3_by_hand():
    # r = ref - logprobs = [[-0.5, 1.0], [0.0, 1.0]]; k3 = e^r - 1 - r
    expected = torch.tensor([[math.exp(-0.5) - 1 + 0.5, math.e - 2.0], [0.0, math.e - 2.0]])
    torch.testing.assert_close(kl.kl_k3(LOGPROBS, REF), expected)


def test_k3_never_negative_while_k1_can_be():
    g = torch.Generator().manual_seed(0)
    lp, ref = -3 * torch.rand(64, 20, generator=g), -3 * torch.rand(64, 20, generator=g)
    assert (kl.kl_k3(lp, ref) >= 0).all()
    assert (kl.kl_k1(lp, ref) < 0).any()


def test_both_zero_when_policies_agree():
    lp = torch.tensor([[-0.1, -2.3, -7.0]])
    assert torch.equal(kl.kl_k1(lp, lp.clone()), torch.zeros_like(lp))
    assert torch.equal(kl.kl_k3(lp, lp.clone()), torch.zeros_like(lp))


def test_both_unbiased_for_kl_p_q_under_samples_from_p():
    p = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=torch.float64)
    q = torch.tensor([0.1, 0.2, 0.2, 0.2, 0.3], dtype=torch.float64)
    true_kl = float((p * (p / q).log()).sum())                          # ~0.59 nats
    g = torch.Generator().manual_seed(0)
    tokens = torch.multinomial(p, 200_000, replacement=True, generator=g)
    lp, ref = p.log()[tokens][None], q.log()[tokens][None]              # (1, n)
    for est in (kl.kl_k1, kl.kl_k3):
        x = est(lp, ref)
        se = float(x.std()) / math.sqrt(x.numel())
        assert abs(float(x.mean()) - true_kl) < 4 * se, est.__name__
    # k3 has the lower variance here (Schulman's note)
    assert kl.kl_k3(lp, ref).std() < kl.kl_k1(lp, ref).std()
