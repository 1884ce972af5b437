"""Optimisation helpers shared by algorithms: rsl_rl's adaptive-KL learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AdaptiveKL", "set_lr", "diag_gaussian_kl"]


@dataclass
class AdaptiveKL:
    """rsl_rl's schedule (leggedrobotics/rsl_rl@c281c32, ``PPO.update``): per minibatch, if the KL
    between the old and new policy exceeds ``2 * desired_kl`` the learning rate is divided by
    ``factor``; if it is below ``desired_kl / 2`` it is multiplied by ``factor``; clamped to
    ``[lr_min, lr_max]``."""

    lr: float
    desired_kl: float = 0.01
    factor: float = 1.5
    lr_min: float = 1e-5
    lr_max: float = 1e-2

    def step(self, kl: float) -> float:
        if kl > 2.0 * self.desired_kl:
            self.lr = max(self.lr_min, self.lr / self.factor)
        elif 0.0 < kl < self.desired_kl / 2.0:
            self.lr = min(self.lr_max, self.lr * self.factor)
        return self.lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def diag_gaussian_kl(mu_p: torch.Tensor, std_p: torch.Tensor, mu_q: torch.Tensor, std_q: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_p, std_p^2) || N(mu_q, std_q^2)) summed over the last dim (exact, diagonal)."""
    return (
        torch.log(std_q / std_p) + (std_p.pow(2) + (mu_p - mu_q).pow(2)) / (2.0 * std_q.pow(2)) - 0.5
    ).sum(-1)
