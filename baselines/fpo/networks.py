"""FPO networks: the flow velocity net ``v(s, x_t, t)`` and the critic ``V(s)`` (upstream's plain MLPs).

Convention (upstream's): ``t = 1`` is noise, ``t = 0`` the action; ``x_t = t eps + (1 - t) a``, so
the velocity along the path is ``dx_t/dt = eps - a``. Sampling integrates from ``t = 1`` to ``t = 0``
with Euler steps at ``t = 1, 1 - 1/K, ..., 1/K``. Weights are LeCun-uniform with zero biases, as
upstream's ``mlp_init``. All networks take normalised observations.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .config import FPOConfig
from .shared import ACTIVATIONS, euler_flow_indexed

__all__ = ["fourier_time_embedding", "lecun_mlp", "FlowVelocity", "Critic"]


def fourier_time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``[..., 1] -> [..., dim]``: ``[cos(2^k t), sin(2^k t)]`` for ``k = 0 .. dim/2 - 1`` (upstream)."""
    freqs = 2.0 ** torch.arange(dim // 2, dtype=t.dtype, device=t.device)
    scaled = t * freqs
    return torch.cat([torch.cos(scaled), torch.sin(scaled)], dim=-1)


def lecun_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str) -> nn.Sequential:
    """MLP with LeCun-uniform weights (``U(+-sqrt(3 / fan_in))``) and zero biases (upstream ``mlp_init``)."""
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden, out_dim]
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        lin = nn.Linear(a, b)
        bound = math.sqrt(3.0 / a)
        nn.init.uniform_(lin.weight, -bound, bound)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(dims) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class FlowVelocity(nn.Module):
    """``v(s, x_t, t) = output_scale * MLP([s, x_t, emb(t)])``; ``sample`` runs the Euler sampler."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: FPOConfig):
        super().__init__()
        self.emb_dim = cfg.time_emb_dim
        self.scale = cfg.output_scale
        self.net = lecun_mlp(obs_dim + action_dim + cfg.time_emb_dim, cfg.actor_hidden, action_dim, cfg.activation)

    def forward(self, obs: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Velocity at ``x_t`` (``[..., A]``), state ``obs`` (``[..., S]``) and time ``t`` (``[..., 1]``)."""
        return self.net(torch.cat([obs, x_t, fourier_time_embedding(t, self.emb_dim)], dim=-1)) * self.scale

    def sample(self, obs: torch.Tensor, x1: torch.Tensor, steps: int) -> torch.Tensor:
        """Integrate ``dx/dt = v`` from ``x1`` at t=1 down to t=0 with ``steps`` Euler steps.

        Uses the shared sampler (``harness.diffusion.euler_flow_indexed``, which runs forward in time
        with step ``1/steps``) on the time-reversed field ``-v(s, x, 1 - k/steps)``: the same updates
        ``x <- x - v(s, x, t_k) / steps``. The first layer's state and time terms are computed once per
        call (equal to ``forward`` up to float rounding).
        """
        first, rest = self.net[0], self.net[1:]
        S, A = obs.shape[-1], x1.shape[-1]
        w_s, w_x, w_t = first.weight.split([S, A, self.emb_dim], dim=1)
        times = 1.0 - torch.arange(steps, dtype=x1.dtype, device=x1.device)[:, None] / steps  # [K, 1]
        per_step = fourier_time_embedding(times, self.emb_dim) @ w_t.t()  # [K, H]
        base = torch.addmm(first.bias, obs, w_s.t())  # [B, H]
        return euler_flow_indexed(
            lambda x, k: -self.scale * rest(torch.addmm(base + per_step[k], x, w_x.t())), x1, steps
        )


class Critic(nn.Module):
    """``V(s)`` MLP (upstream 5 x 256, silu)."""

    def __init__(self, obs_dim: int, cfg: FPOConfig):
        super().__init__()
        self.net = lecun_mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
