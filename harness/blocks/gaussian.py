"""Pure PPO loss pieces (shapes ``[B]`` unless noted): Gaussian log-prob/entropy, clipped surrogate,
clipped value loss. Shared with methods that run PPO on a Gaussian (CPPO's kernel)."""

from __future__ import annotations

import math

import torch

__all__ = ["gaussian_log_prob", "gaussian_entropy", "clipped_surrogate", "value_loss"]

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(std^2)) summed over the last dim: ``[B, A] -> [B]``."""
    return (-0.5 * ((x - mean) / std).pow(2) - torch.log(std) - 0.5 * _LOG_2PI).sum(-1)


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    """Entropy of N(., diag(std^2)) summed over the last dim: ``[B, A] -> [B]``."""
    return (0.5 + 0.5 * _LOG_2PI + torch.log(std)).sum(-1)


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, adv: torch.Tensor, clip: float):
    """PPO's pessimistic clipped objective as a loss (to minimise). Returns ``(loss, ratio)``."""
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = ratio * adv
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * adv
    return -torch.min(unclipped, clipped).mean(), ratio


def value_loss(
    value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor, clip: float, clipped: bool
) -> torch.Tensor:
    """rsl_rl's value loss: ``max((V - R)^2, (V_clipped - R)^2)`` with ``V_clipped`` within ``clip`` of
    the rollout's value when ``clipped``, else plain MSE."""
    if not clipped:
        return (returns - value).pow(2).mean()
    v_clip = old_value + (value - old_value).clamp(-clip, clip)
    return torch.max((value - returns).pow(2), (v_clip - returns).pow(2)).mean()
