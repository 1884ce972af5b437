"""Shared network building blocks: MLPs, time embeddings, seeded initialisation, Polyak averaging."""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "mlp", "SinusoidalEmbedding", "seeded_init", "polyak_update", "zero_last_layer", "TwinQ"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "mish": nn.Mish,
    "gelu": nn.GELU,
}


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: str = "elu",
    *,
    layer_norm: bool = False,
    out_gain: float | None = None,
) -> nn.Sequential:
    """``in -> hidden... -> out`` with ``activation`` between layers (none after the last).

    ``out_gain=0.0`` zero-initialises the last layer (used for residual heads that must start at 0).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        if layer_norm:
            layers.append(nn.LayerNorm(h))
        layers.append(ACTIVATIONS[activation]())
        d = h
    last = nn.Linear(d, out_dim)
    if out_gain is not None:
        if out_gain == 0.0:
            nn.init.zeros_(last.weight)
        else:
            nn.init.orthogonal_(last.weight, gain=out_gain)
        nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


def zero_last_layer(net: nn.Sequential) -> None:
    """Zero the weights and bias of the last Linear layer of ``net``."""
    for m in reversed(list(net.modules())):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
            return


class SinusoidalEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar time ``t`` ``[B]`` or ``[B, 1]`` -> ``[B, dim]``."""

    def __init__(self, dim: int, max_period: float = 10_000.0, scale: float = 1.0):
        super().__init__()
        if dim % 2:
            raise ValueError("embedding dim must be even")
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / max(half - 1, 1))
        self.freqs: torch.Tensor
        self.register_buffer("freqs", freqs, persistent=False)
        self.scale = scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1, 1).float() * self.scale
        args = t * self.freqs[None, :]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build modules inside this block to draw their initial weights from ``seed`` only.

    The global torch RNG state is saved and restored (``torch.random.fork_rng``), so nothing
    outside the block is perturbed.
    """
    devices: list[int] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed) % (2**63))
        yield


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * source`` for parameters and float buffers."""
    for tp, sp in zip(target.parameters(), source.parameters()):
        tp.lerp_(sp, tau)
    for tb, sb in zip(target.buffers(), source.buffers()):
        if tb.dtype.is_floating_point:
            tb.lerp_(sb, tau)
        else:
            tb.copy_(sb)


class TwinQ(nn.Module):
    """Two independent ``Q(s, a)`` MLPs; ``forward`` returns ``(q1, q2)`` each ``[B]``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int], activation: str = "mish",
                 out_dim: int = 1, layer_norm: bool = False):
        super().__init__()
        self.q1 = mlp(obs_dim + action_dim, hidden, out_dim, activation, layer_norm=layer_norm)
        self.q2 = mlp(obs_dim + action_dim, hidden, out_dim, activation, layer_norm=layer_norm)
        self.out_dim = out_dim

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        q1, q2 = self.q1(x), self.q2(x)
        if self.out_dim == 1:
            return q1.squeeze(-1), q2.squeeze(-1)
        return q1, q2

    def min_q(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        q1, q2 = self(obs, action)
        return torch.min(q1, q2)
