"""Actor-critic for Gaussian PPO: MLP mean, state-independent std parameter (no tanh), MLP value."""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.nn import mlp

from .config import PPOConfig

__all__ = ["ActorCritic"]


class ActorCritic(nn.Module):
    """``mean(s)``, ``log_std`` (parameter) and ``value(s)`` on normalised observations."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: PPOConfig):
        super().__init__()
        self.actor = mlp(obs_dim, cfg.actor_hidden, action_dim, cfg.activation, out_gain=0.01)
        self.critic = mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation, out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(cfg.init_std)))

    def dist_params(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.actor(obs)
        std = self.log_std.clamp(-20.0, 2.0).exp().expand_as(mean)
        return mean, std

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)
