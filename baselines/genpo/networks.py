"""GenPO's invertible coupled flow on the doubled ("dummy") action, and its critic.

Follows wadx2019/genpo@5b6711b ``flow_rsl_rl/rsl_rl/modules/reflow/flow.py`` (``Flow``): the action
space is doubled, ``x = [z, y]`` with ``z, y`` in R^A, ``x0 ~ N(0, I_2A)``; each of the N steps is

    z' = z  + dt * v(y,  s, t)          (additive coupling, volume 1)
    y' = y  + dt * v(z', s, t)          (additive coupling, volume 1)
    z'' = p z' + (1 - p) y'             (mixing: volume p per dimension)
    y'' = p y' + (1 - p) z''            (mixing: volume p per dimension)

with one shared vector field ``v`` (an MLP on ``[half, obs, time_mlp(sinusoid(t))]``), dt = 1/N,
t = i/N. Every step is exactly invertible and its Jacobian determinant is ``p^(2A)`` whatever ``v``
is, so ``log|det d x_N / d x0| = 2 N A log p``: a constant. Upstream evaluates that determinant with
``jacrev`` + ``torch.linalg.det`` at every call; here it is the closed form (tests check it against
the brute-force autograd Jacobian). The executed action is ``(z + y) / 2`` (upstream's runner).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.blocks.onpolicy import SinusoidalEmbedding, mlp

from .config import GenPOConfig

__all__ = ["CoupledFlow", "Critic", "standard_normal_log_prob"]

_LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(x: torch.Tensor, std: float = 1.0) -> torch.Tensor:
    """log N(x; 0, std^2 I) summed over the last dim: ``[B, D] -> [B]``."""
    return (-0.5 * (x / std).pow(2) - math.log(std) - 0.5 * _LOG_2PI).sum(-1)


class CoupledFlow(nn.Module):
    """The flow ``f_s: x0 -> x_N`` on R^{2A} (see the module docstring) with its inverse and density."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: GenPOConfig):
        super().__init__()
        self.action_dim, self.steps, self.p = action_dim, cfg.flow_steps, cfg.mix_p
        time_layers = [SinusoidalEmbedding(cfg.time_dim)]
        time_layers.append(mlp(cfg.time_dim, cfg.time_hidden, cfg.time_dim, cfg.activation))
        self.time_mlp = nn.Sequential(*time_layers)
        self.field = mlp(action_dim + obs_dim + cfg.time_dim, cfg.actor_hidden, action_dim, cfg.activation)

    @property
    def log_det(self) -> float:
        """``log|det d f_s(x0) / d x0| = 2 N A log p`` (the same for every state and x0)."""
        return 2.0 * self.steps * self.action_dim * math.log(self.p)

    def _time_embeddings(self, obs: torch.Tensor) -> list[torch.Tensor]:
        t = torch.arange(self.steps, dtype=obs.dtype, device=obs.device) / self.steps
        emb = self.time_mlp(t)  # [N, time_dim]
        return [emb[i].expand(obs.shape[0], -1) for i in range(self.steps)]

    def _v(self, half: torch.Tensor, obs: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        return self.field(torch.cat([half, obs, t_emb], dim=-1))

    def forward(self, obs: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """``x_N = f_s(x0)``: ``obs [B, S]``, ``x0 [B, 2A]`` -> ``[B, 2A]``."""
        p, dt = self.p, 1.0 / self.steps
        z, y = x0.split(self.action_dim, dim=-1)
        for t_emb in self._time_embeddings(obs):
            z = z + dt * self._v(y, obs, t_emb)
            y = y + dt * self._v(z, obs, t_emb)
            z = p * z + (1.0 - p) * y
            y = p * y + (1.0 - p) * z
        return torch.cat([z, y], dim=-1)

    def inverse(self, obs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x0 = f_s^{-1}(x)``, undoing the steps in reverse order (exact up to float rounding)."""
        p, dt = self.p, 1.0 / self.steps
        z, y = x.split(self.action_dim, dim=-1)
        for t_emb in reversed(self._time_embeddings(obs)):
            y = (y - (1.0 - p) * z) / p
            z = (z - (1.0 - p) * y) / p
            y = y - dt * self._v(z, obs, t_emb)
            z = z - dt * self._v(y, obs, t_emb)
        return torch.cat([z, y], dim=-1)

    def log_prob(self, obs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log pi(x | s) = log N(f_s^{-1}(x); 0, I) - 2 N A log p`` (change of variables): ``[B]``."""
        return standard_normal_log_prob(self.inverse(obs, x)) - self.log_det

    def sample(self, obs: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, log pi(x | s))`` for given base noise ``x0`` (no inverse pass needed)."""
        return self(obs, x0), standard_normal_log_prob(x0) - self.log_det

    def env_action(self, x: torch.Tensor) -> torch.Tensor:
        """The executed action ``(z + y) / 2`` of a doubled action ``[B, 2A] -> [B, A]`` (before clipping)."""
        z, y = x.split(self.action_dim, dim=-1)
        return 0.5 * (z + y)


class Critic(nn.Module):
    """``V(s)`` MLP."""

    def __init__(self, obs_dim: int, cfg: GenPOConfig):
        super().__init__()
        self.net = mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation)  # default init, as upstream

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
