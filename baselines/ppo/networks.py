"""Actor-critic for Gaussian PPO: MLP mean with a state-independent std parameter (rsl_rl, no tanh), or
an MLP emitting mean and raw scale of a tanh-squashed Normal (Brax); MLP value."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from harness.nn import mlp

from .config import PPOConfig

__all__ = ["ActorCritic", "TANH_MIN_STD", "lecun_uniform_"]

TANH_MIN_STD = 0.001
"""Brax ``NormalTanhDistribution(min_std=0.001)``: std = softplus(raw) + 0.001."""


def lecun_uniform_(net: nn.Module) -> None:
    """Every Linear weight ~ U(+-sqrt(3 / fan_in)) and bias 0 (``jax.nn.initializers.lecun_uniform``)."""
    for m in net.modules():
        if isinstance(m, nn.Linear):
            bound = math.sqrt(3.0 / m.in_features)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


class ActorCritic(nn.Module):
    """``dist_params(s) -> (mean, std)`` of the pre-squash Gaussian and ``value(s)``, on normalised
    observations. ``cfg.policy_dist`` picks the std: the ``log_std`` parameter ("normal") or
    ``softplus(raw(s)) + 0.001`` from the actor's second half ("tanh_normal")."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: PPOConfig):
        super().__init__()
        self.tanh = cfg.policy_dist == "tanh_normal"
        out = 2 * action_dim if self.tanh else action_dim
        self.actor = mlp(obs_dim, cfg.actor_hidden, out, cfg.activation, out_gain=0.01)
        self.critic = mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation, out_gain=1.0)
        if not self.tanh:
            self.log_std = nn.Parameter(torch.full((action_dim,), math.log(cfg.init_std)))
        if cfg.weight_init == "lecun_uniform":
            lecun_uniform_(self)

    def dist_params(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tanh:
            mean, raw = self.actor(obs).chunk(2, dim=-1)
            return mean, F.softplus(raw) + TANH_MIN_STD
        mean = self.actor(obs)
        std = self.log_std.clamp(-20.0, 2.0).exp().expand_as(mean)
        return mean, std

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def actor_parameters(self) -> list[nn.Parameter]:
        """The policy's parameters (MLP and, for "normal", the std parameter)."""
        return [p for n, p in self.named_parameters() if not n.startswith("critic.")]
