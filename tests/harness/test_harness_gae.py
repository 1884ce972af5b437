"""GAE on a hand-computed case, including a time-out and a termination."""

import torch

from harness.buffers import gae


def test_gae_hand_computed_with_timeout_and_termination():
    g, lam = 0.9, 0.5
    # One env, 4 steps: step 1 is a time-out (bootstrap from V(final obs) = 5), step 3 terminates.
    rewards = torch.tensor([[1.0], [2.0], [0.5], [3.0]])
    values = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    next_values = torch.tensor([[2.0], [5.0], [4.0], [9.0]])  # V(s_{t+1}); 5 = V(final obs) at the time-out
    terminated = torch.tensor([[False], [False], [False], [True]])
    truncated = torch.tensor([[False], [True], [False], [False]])
    done = terminated | truncated
    adv, ret = gae(rewards, values, next_values, terminated, done, g, lam)
    # deltas by hand
    d3 = 3.0 + 0.0 - 4.0  # terminal: no bootstrap
    d2 = 0.5 + g * 4.0 - 3.0
    d1 = 2.0 + g * 5.0 - 2.0  # time-out: bootstrap from the final observation's value
    d0 = 1.0 + g * 2.0 - 1.0
    a3 = d3
    a2 = d2 + g * lam * a3
    a1 = d1  # episode boundary cuts the recursion
    a0 = d0 + g * lam * a1
    expected = torch.tensor([[a0], [a1], [a2], [a3]])
    assert torch.allclose(adv, expected, atol=1e-6)
    assert torch.allclose(ret, expected + values, atol=1e-6)


def test_gae_lambda_one_equals_discounted_return_minus_value():
    g = 0.5
    r = torch.tensor([[1.0], [1.0], [1.0]])
    v = torch.zeros(3, 1)
    nv = torch.tensor([[0.0], [0.0], [8.0]])
    f = torch.zeros(3, 1, dtype=torch.bool)
    adv, _ = gae(r, v, nv, f, f, g, 1.0)
    assert torch.allclose(adv[0], torch.tensor([1 + 0.5 + 0.25 + 0.125 * 8]))
