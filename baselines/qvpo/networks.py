"""QVPO networks: the conditional eps-network of the diffusion policy and the twin critic.

Architecture as wadx2019/qvpo@40a1974 ``agent/model.py``: the eps-net sees ``[x_t, time_emb(t), s]``
through an MLP (3 x 256, mish); ``time_emb`` is a 32-d sinusoidal embedding followed by
Linear(32, 256) -> mish -> Linear(256, 32). Every Linear starts from a normal truncated at two
standard deviations, std ``1 / (2 sqrt(fan_in))``, with zero bias (upstream ``init_weights``).

Speed (not a change of the function): the first layer's weight is applied in three column blocks
``W [x, e, s] = W_x x + W_e e + W_s s`` so that ``W_s s + b`` is computed once per state (not once
per candidate and denoising step) and ``W_e e`` once per time index (a ``[T, H]`` table).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from harness.nn import ACTIVATIONS, SinusoidalEmbedding, TwinQ, mlp

__all__ = ["EpsNet", "make_critic", "upstream_init"]


@torch.no_grad()
def upstream_init(module: nn.Module) -> None:
    """Truncated-normal weights (std ``1/(2 sqrt(fan_in))``, cut at +-2 std) and zero bias for every Linear."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            std = 1.0 / (2.0 * math.sqrt(m.in_features))
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)
            nn.init.zeros_(m.bias)


class EpsNet(nn.Module):
    """``eps_theta(x_t, t, s)`` for integer times ``t in 0..T-1``.

    Use ``cond(s)`` once per state batch, ``time_table()`` once per call, then ``eps(x, t, c, table)``
    per denoising step; ``forward(x, t, s)`` does all three for one batch.
    """

    def __init__(self, obs_dim: int, action_dim: int, n_timesteps: int, hidden: Sequence[int],
                 time_dim: int = 32, time_hidden: int = 256, activation: str = "mish"):
        super().__init__()
        if not hidden:
            raise ValueError("EpsNet needs at least one hidden layer")
        self.obs_dim, self.action_dim, self.T = obs_dim, action_dim, n_timesteps
        self.time_mlp = nn.Sequential(
            SinusoidalEmbedding(time_dim), nn.Linear(time_dim, time_hidden), ACTIVATIONS[activation](),
            nn.Linear(time_hidden, time_dim),
        )
        self.first = nn.Linear(action_dim + time_dim + obs_dim, hidden[0])
        self.act = ACTIVATIONS[activation]()
        self.trunk = mlp(hidden[0], hidden[1:], action_dim, activation)
        self._split = (action_dim, time_dim, obs_dim)
        self.register_buffer("steps", torch.arange(n_timesteps), persistent=False)
        upstream_init(self)

    def cond(self, obs: torch.Tensor) -> torch.Tensor:
        """State part of the first layer (with its bias): ``[B, S] -> [B, H]``."""
        a, e, _ = self._split
        return F.linear(obs, self.first.weight[:, a + e:], self.first.bias)

    def time_table(self) -> torch.Tensor:
        """Time part of the first layer for every t: ``[T, H]``."""
        a, e, _ = self._split
        return F.linear(self.time_mlp(self.steps), self.first.weight[:, a:a + e])

    def eps(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Predicted noise ``[B, A]`` from ``x [B, A]``, ``t [B]`` (long), ``cond [B, H]``, ``table [T, H]``."""
        a = self._split[0]
        h = F.linear(x, self.first.weight[:, :a]) + table[t] + cond
        return self.trunk(self.act(h))

    def eps_at(self, x: torch.Tensor, time_row: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``eps`` for one time index shared by all rows (``time_row = table[t]``, ``[H]``)."""
        h = torch.addmm(cond + time_row, x, self.first.weight[:, : self._split[0]].t())
        return self.trunk(self.act(h))

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return self.eps(x, t, self.cond(obs), self.time_table())


def make_critic(obs_dim: int, action_dim: int, hidden: Sequence[int], activation: str = "mish") -> TwinQ:
    """The shared ``TwinQ`` (two independent MLPs on ``[s, a]``) with upstream's initialisation."""
    critic = TwinQ(obs_dim, action_dim, hidden, activation)
    upstream_init(critic)
    return critic
