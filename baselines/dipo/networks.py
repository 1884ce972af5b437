"""DIPO networks: the conditional epsilon-net, the diffusion policy around it, the twin critics.

Architecture as upstream BellmanTimeHut/DIPO@c6d8d1b (``agent/model.py``): epsilon-net
``[x_t, time_mlp(t), s] -> 3 x 256 mish -> eps`` with ``time_mlp = sinusoidal(32) -> 256 mish -> 32``;
critics are two ``[s, a] -> 3 x 256 mish -> 1`` MLPs. Upstream's ``init_weights`` means to draw a
truncated normal, but its loop only rebinds a local name, so the weights it leaves are a plain
``N(0, 1/(2 sqrt(fan_in)))`` with zero biases; ``upstream_init`` reproduces that effective init.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.diffusion import GaussianDiffusion
from harness.nn import ACTIVATIONS, SinusoidalEmbedding, TwinQ, mlp

__all__ = ["EpsNet", "DiffusionPolicy", "make_critic", "upstream_init"]


@torch.no_grad()
def upstream_init(module: nn.Module) -> None:
    """Every Linear: weight ~ N(0, (1 / (2 sqrt(fan_in)))^2), bias 0 (upstream's effective init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.weight.normal_(0.0, 1.0 / (2.0 * math.sqrt(m.in_features)))
            m.bias.zero_()


class EpsNet(nn.Module):
    """``eps(x_t [B, A], t [B] long, s [B, S]) -> [B, A]``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: int = 256, time_dim: int = 32, activation: str = "mish"):
        super().__init__()
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(time_dim), nn.Linear(time_dim, hidden), ACTIVATIONS[activation](),
            nn.Linear(hidden, time_dim),
        )
        self.net = mlp(action_dim + time_dim + obs_dim, (hidden, hidden, hidden), action_dim, activation)
        upstream_init(self)

    def forward(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.time_mlp(t), s], dim=-1))

    def forward_shared_t(self, x: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Same as ``forward`` when every row has the same ``t`` (the sampler): the time MLP runs once."""
        temb = self.time_mlp(t[:1]).expand(x.shape[0], -1)
        return self.net(torch.cat([x, temb, s], dim=-1))


class DiffusionPolicy(nn.Module):
    """The DDPM actor: cosine schedule, epsilon-prediction, x0 clipped to [-1, 1], action clamped."""

    def __init__(self, obs_dim: int, action_dim: int, T: int, hidden: int, time_dim: int, activation: str,
                 device: str | torch.device):
        super().__init__()
        self.action_dim = action_dim
        self.eps = EpsNet(obs_dim, action_dim, hidden, time_dim, activation)
        self.diffusion = GaussianDiffusion.cosine(T, device)

    def sample(
        self, obs: torch.Tensor, generator: torch.Generator | None, noise_ratio: float, x_T: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the T-step chain from ``x_T`` (default: N(0, I) drawn from ``generator``); returns actions
        in [-1, 1]."""
        shape = (obs.shape[0], self.action_dim)
        x = self.diffusion.p_sample_loop(
            lambda x, t: self.eps.forward_shared_t(x, t, obs), shape, generator, clip=1.0, noise_ratio=noise_ratio,
            x_T=x_T,
        )
        return x.clamp(-1.0, 1.0)

    def bc_loss(self, obs: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Denoising (epsilon-MSE) loss on ``(obs, actions)``, t ~ U{0..T-1}."""
        return self.diffusion.loss(lambda x, t: self.eps(x, t, obs), actions, generator)


def make_critic(obs_dim: int, action_dim: int, hidden: int, activation: str) -> TwinQ:
    """Twin ``Q(s, a)``: two 3-hidden-layer MLPs, upstream's init."""
    q = TwinQ(obs_dim, action_dim, (hidden, hidden, hidden), activation)
    upstream_init(q)
    return q
