"""DIPO's pure pieces: the TD target, the critic loss and the action-gradient improvement.

Follows BellmanTimeHut/DIPO@c6d8d1b ``agent/DiPo.py`` (``train``, ``action_gradient``), with
time-outs kept apart from terminations (see README, deviations).
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["td_target", "critic_loss", "action_gradient"]


def td_target(
    reward: torch.Tensor,
    next_q: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    truncation: str = "bootstrap",
) -> torch.Tensor:
    """``r + gamma * mask * next_q`` (all ``[B]``).

    ``mask = 0`` on terminated transitions; on truncated ones ``mask = 1`` under 'bootstrap' (the
    successor is the final observation) and ``0`` under 'terminal' (upstream's ``mask = 0 if done``).
    """
    if truncation == "bootstrap":
        stop = terminated
    elif truncation == "terminal":
        stop = terminated | truncated
    else:
        raise ValueError(f"truncation must be 'bootstrap' or 'terminal', got {truncation!r}")
    return reward + gamma * (~stop).float() * next_q


def critic_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``MSE(q1, y) + MSE(q2, y)`` (upstream sums the two means)."""
    return (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()


def action_gradient(
    q_fn: Callable[[torch.Tensor], torch.Tensor],
    actions: torch.Tensor,
    steps: int,
    lr: float,
    max_grad_norm: float,
    adam_eps: float = 1e-5,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Move ``actions`` ``[B, A]`` uphill on ``q_fn`` (``[B, A] -> [B]``, e.g. min of the twin critics).

    A fresh Adam (``lr``, ``adam_eps``) on the action tensor takes ``steps`` steps on the loss
    ``-sum_b q_fn(a)_b``; before each step the gradient of the whole ``[B, A]`` tensor is clipped to
    total L2 norm ``max_grad_norm`` (skipped when <= 0) and after it the actions are clamped to
    [-1, 1]. Critic parameters receive no gradient. Returns the improved (detached) actions and stats:
    mean pre-clip gradient norm, max post-clip gradient norm, mean absolute shift (0-d tensors, no
    host sync).
    """
    start = actions.detach()
    a = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([a], lr=lr, eps=adam_eps)
    norms_before, norms_after = [], []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        q = q_fn(a)
        (grad,) = torch.autograd.grad(-q.sum(), a)
        norm = grad.norm()
        norms_before.append(norm)
        if max_grad_norm > 0:
            grad = grad * (max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
        norms_after.append(grad.norm())
        a.grad = grad
        opt.step()
        with torch.no_grad():
            a.clamp_(-1.0, 1.0)
    out = a.detach()
    stats = {
        "action_grad_norm": torch.stack(norms_before).mean().detach(),
        "action_grad_norm_clipped_max": torch.stack(norms_after).max().detach(),
        "action_shift": (out - start).abs().mean(),
    }
    return out, stats
