"""DACER networks: the epsilon-network of the diffusion actor and the twin distributional critic.

Architecture as happy-yan/DACER-Diffusion-with-Online-RL@848c1f2 ``relax/network/blocks.py``
(``DACERPolicyNet``, ``DistributionalQNet2``): own torch code.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from harness.diffusion import GaussianDiffusion
from harness.nn import ACTIVATIONS, TwinQ, mlp

from .config import DACERConfig

__all__ = ["ScaledSinusoidal", "EpsNet", "DiffusionActor", "DistributionalTwinQ"]


class ScaledSinusoidal(nn.Module):
    """``[sin(t w_j), cos(t w_j)] / sqrt(dim)`` with ``w_j = theta^(-j / (dim/2))``, j = 0..dim/2-1."""

    def __init__(self, dim: int, theta: float = 10_000.0):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", theta ** (-torch.arange(half, dtype=torch.float32) / half), persistent=False)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.reshape(-1, 1).float() * self.freqs
        return torch.cat([args.sin(), args.cos()], dim=-1) * self.scale


class EpsNet(nn.Module):
    """``eps(s, x_t, t)``: MLP on ``[s, x_t, emb(t)]`` where emb = Linear(2d) -> act -> Linear(d) of the
    scaled sinusoidal encoding."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: DACERConfig):
        super().__init__()
        d = cfg.time_dim
        self.time = nn.Sequential(ScaledSinusoidal(d), nn.Linear(d, 2 * d), ACTIVATIONS[cfg.activation](),
                                  nn.Linear(2 * d, d))
        self.net = mlp(obs_dim + action_dim + d, cfg.actor_hidden, action_dim, cfg.activation)

    def forward(self, obs: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, x, self.time(t)], dim=-1))

    def conditioned(self, obs: torch.Tensor, num_steps: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
        """``step(x, i) == forward(obs, x, full(i))`` for the whole chain, with the observation part of
        the first layer and the time embeddings of ``0..num_steps-1`` computed once (same maths, fewer
        ops per denoising step; differentiable)."""
        first = self.net[0]
        o = obs.shape[-1]
        a = first.in_features - o - self.time[-1].out_features
        w_obs, w_x, w_t = first.weight.split([o, a, first.in_features - o - a], dim=1)
        h_obs = nn.functional.linear(obs, w_obs, first.bias)  # [B, H]
        h_t = self.time(torch.arange(num_steps, device=obs.device)) @ w_t.T  # [T, H]
        rest = self.net[1:]

        def step(x: torch.Tensor, i: int) -> torch.Tensor:
            return rest(torch.addmm(h_obs + h_t[i], x, w_x.T))

        return step


class DiffusionActor(nn.Module):
    """The DACER policy: the reverse DDPM chain (VP schedule, x0 clipped to [-1, 1] each step), then
    ``clip(a0 + alpha * noise_scale * N(0, I), -1, 1)``.

    ``sample`` is differentiable through every denoising step when gradients are enabled.
    """

    def __init__(self, obs_dim: int, action_dim: int, cfg: DACERConfig, device: torch.device):
        super().__init__()
        self.eps = EpsNet(obs_dim, action_dim, cfg)
        self.diffusion = d = GaussianDiffusion.vp(cfg.diffusion_steps, device, b_min=cfg.beta_min, b_max=cfg.beta_max)
        self.action_dim = action_dim
        self.noise_scale = cfg.noise_scale
        # Per-step coefficients as Python floats (the float32 values of the harness tables).
        self._coef = [
            tuple(float(v) for v in row)
            for row in zip(d.sqrt_recip_ac, d.sqrt_recipm1_ac, d.posterior_mean_coef1, d.posterior_mean_coef2,
                           torch.exp(0.5 * d.posterior_log_variance))
        ]

    def chain(self, obs: torch.Tensor, generator: torch.Generator | None, noiseless: bool = False) -> torch.Tensor:
        """a0 from the reverse chain, ``[B, A]``: x_T ~ N(0, I); per step x0 = predict_x0 clipped to
        [-1, 1], x_{t-1} = posterior mean + posterior std * N(0, I) (no noise at t = 0). ``noiseless``:
        x_T = 0 and no per-step noise (the deterministic evaluation policy).

        Same maths and the same random draws, in the same order, as the harness's
        ``GaussianDiffusion.p_sample_loop(eps_fn, shape, generator, clip=1.0)`` (tested), unrolled
        with scalar coefficients and a pre-conditioned eps-net for speed.
        """
        shape = (obs.shape[0], self.action_dim)
        step = self.eps.conditioned(obs, self.diffusion.T)
        if noiseless:
            x = torch.zeros(shape, device=obs.device)
        else:
            x = torch.randn(shape, generator=generator, device=obs.device)
        for i in reversed(range(self.diffusion.T)):
            c_x, c_eps, k0, kx, sigma = self._coef[i]
            x0 = (c_x * x - c_eps * step(x, i)).clamp(-1.0, 1.0)
            mean = k0 * x0 + kx * x
            if i > 0 and not noiseless:
                x = mean + sigma * torch.randn(shape, generator=generator, device=obs.device)
            else:
                x = mean
        return x

    def sample(self, obs: torch.Tensor, alpha: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """Action in [-1, 1]: the chain plus ``alpha * noise_scale`` Gaussian noise (none if ``alpha`` is None)."""
        a = self.chain(obs, generator)
        if alpha is not None:
            noise = torch.randn(a.shape, generator=generator, device=a.device)
            a = a + alpha.detach() * self.noise_scale * noise
        return a.clamp(-1.0, 1.0)


class DistributionalTwinQ(nn.Module):
    """Two critics, each an MLP with two outputs: mean and ``softplus`` std of the return distribution."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: DACERConfig):
        super().__init__()
        self.twin = TwinQ(obs_dim, action_dim, cfg.critic_hidden, cfg.activation, out_dim=2)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean [2, B], std [2, B])`` for critics 1 and 2."""
        q1, q2 = self.twin(obs, action)
        out = torch.stack([q1, q2])
        return out[..., 0], nn.functional.softplus(out[..., 1])
