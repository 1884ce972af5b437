"""PPO loss pieces on hand-derived values, and rsl_rl's adaptive-KL schedule."""

import math

import torch

from harness.blocks.gaussian import clipped_surrogate, gaussian_entropy, gaussian_log_prob, value_loss
from harness.optim import AdaptiveKL, diag_gaussian_kl


def test_clipped_surrogate_hand_values():
    old = torch.zeros(4)
    # ratios 1.5, 0.5, 1.1, 0.7 with clip 0.2
    new = torch.log(torch.tensor([1.5, 0.5, 1.1, 0.7]))
    adv = torch.tensor([1.0, 1.0, -2.0, -1.0])
    loss, ratio = clipped_surrogate(new, old, adv, 0.2)
    # min(r*A, clip(r)*A): 1.5 -> min(1.5, 1.2)=1.2 ; 0.5 -> min(0.5, 0.8)=0.5 ;
    # 1.1,A=-2 -> min(-2.2, -2.2)=-2.2 ; 0.7,A=-1 -> min(-0.7, -0.8)=-0.8
    expected = -(1.2 + 0.5 - 2.2 - 0.8) / 4
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert torch.allclose(ratio, torch.tensor([1.5, 0.5, 1.1, 0.7]))


def test_value_loss_clipped_takes_the_max():
    v = torch.tensor([2.0, 0.0])
    old = torch.tensor([1.0, 0.0])
    ret = torch.tensor([3.0, 1.0])
    # sample 0: unclipped (2-3)^2=1, clipped v=1.2 -> (1.2-3)^2=3.24 -> 3.24 ; sample 1: (0-1)^2=1 both
    assert math.isclose(value_loss(v, old, ret, 0.2, True).item(), (3.24 + 1.0) / 2, rel_tol=1e-6)
    assert math.isclose(value_loss(v, old, ret, 0.2, False).item(), (1.0 + 1.0) / 2, rel_tol=1e-6)


def test_gaussian_pieces_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, x = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    std = torch.rand(5, 3, generator=g) + 0.1
    ref = torch.distributions.Normal(mean, std)
    assert torch.allclose(gaussian_log_prob(x, mean, std), ref.log_prob(x).sum(-1), atol=1e-5)
    assert torch.allclose(gaussian_entropy(std), ref.entropy().sum(-1), atol=1e-5)
    mean2, std2 = torch.randn(5, 3, generator=g), torch.rand(5, 3, generator=g) + 0.1
    kl = torch.distributions.kl_divergence(ref, torch.distributions.Normal(mean2, std2)).sum(-1)
    assert torch.allclose(diag_gaussian_kl(mean, std, mean2, std2), kl, atol=1e-5)


def test_adaptive_kl_schedule():
    s = AdaptiveKL(lr=1e-3, desired_kl=0.01)
    assert math.isclose(s.step(0.05), 1e-3 / 1.5)  # KL too big: decrease
    assert math.isclose(s.step(0.001), 1e-3)  # KL too small: increase back
    assert math.isclose(s.step(0.01), 1e-3)  # in band: unchanged
    s.lr = 1e-5
    assert s.step(1.0) == 1e-5  # floor
