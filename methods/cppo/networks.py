"""CPPO networks: the flow velocity ``v(s, x, t)``, the conditional Gaussian kernel and the critic.

All take *normalised* observations. The velocity's and the kernel's last layers start at zero, so
the initial flow is the identity (a0 = x0 ~ N(0, I)) and the initial kernel is ``N(base * a0, s^2 I)``
with ``s = kernel_init_std``: with the defaults (base 1, s = 1) the initial policy is N(0, 2 I) per
dimension; with the spec's settings (base 1 - h, s = sqrt(2h)) it is N(0, (1 - h)^2 + 2h) = N(0, 1.0025 I).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from harness.diffusion import euler_flow_indexed
from harness.nn import SinusoidalEmbedding, mlp, zero_last_layer

from .config import CPPOConfig

__all__ = ["FlowVelocity", "GaussianKernel", "Critic"]


class FlowVelocity(nn.Module):
    """MLP on ``[s, x, emb(t)]``; ``sample(s, x0, steps)`` integrates it from t=0 to t=1 (Euler)."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: CPPOConfig):
        super().__init__()
        # Time in [0, 1] is scaled to [0, 1000] so the sinusoid frequencies resolve it (as DDPM indices).
        self.emb = SinusoidalEmbedding(cfg.time_emb_dim, scale=1000.0)
        self.net = mlp(obs_dim + action_dim + cfg.time_emb_dim, cfg.flow_hidden, action_dim, cfg.flow_activation,
                       out_gain=0.0)

    def forward(self, obs: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, x, self.emb(t)], dim=-1))

    def sample(self, obs: torch.Tensor, x0: torch.Tensor, steps: int) -> torch.Tensor:
        """a0 = Euler integration of ``dx/dt = v(obs, x, t)`` from ``x0`` (``harness.diffusion.euler_flow_indexed``).

        Same function as ``forward`` at ``t = k / steps``, evaluated faster: the first layer's state and
        time-embedding terms are constant across the K steps, so they are computed once per call and each
        step only adds ``W_x x`` (fewer, smaller ops per step; equal to ``forward`` up to float rounding).
        """
        first, rest = self.net[0], self.net[1:]
        S, A = obs.shape[-1], x0.shape[-1]
        w_s, w_x, w_t = first.weight.split([S, A, first.weight.shape[1] - S - A], dim=1)
        times = torch.arange(steps, dtype=x0.dtype, device=x0.device) / steps
        per_step = self.emb(times) @ w_t.t()  # [K, H]
        base = torch.addmm(first.bias, obs, w_s.t())  # [B, H]
        return euler_flow_indexed(lambda x, k: rest(torch.addmm(base + per_step[k], x, w_x.t())), x0, steps)


class GaussianKernel(nn.Module):
    """``N(mu(s, a0), sigma^2)`` with ``mu = (1 - h) a0 + g(s, a0)`` (``kernel_base="identity"``:
    ``a0 + g``; ``kernel_reset="delta"``: g's output minus a frozen copy's).

    ``kernel_std="param"``: sigma is a state-independent log-std vector; ``"state"``: g's net has a
    second output block, added to the log-std. Both start at ``sigma = kernel_init_std`` (0: ``sqrt(2h)``).
    """

    def __init__(self, obs_dim: int, action_dim: int, cfg: CPPOConfig):
        super().__init__()
        self.h = cfg.langevin_step
        self.base = 1.0 - self.h if cfg.kernel_base == "langevin" else 1.0
        self.action_dim = action_dim
        self.state_std = cfg.kernel_std == "state"
        out = 2 * action_dim if self.state_std else action_dim
        self.g = mlp(obs_dim + action_dim, cfg.kernel_hidden, out, cfg.activation, out_gain=0.0)
        self.init_log_std = math.log(cfg.kernel_init_std) if cfg.kernel_init_std > 0 else 0.5 * math.log(2.0 * self.h)
        self.log_std = nn.Parameter(torch.full((action_dim,), self.init_log_std))
        # kernel_reset="delta": g's output is measured from a frozen copy of itself, re-synced after each
        # distillation, so g is exactly zero at the start of every iteration while all its layers keep learning.
        self.g_frozen = copy.deepcopy(self.g).requires_grad_(False) if cfg.kernel_reset == "delta" else None
        # What g's output depends on; parameters are updated in place (optimiser, reset, load_state_dict),
        # so these stay the module's tensors and their version counters see every change.
        self._g_params = list(self.g.parameters()) + (list(self.g_frozen.parameters()) if self.g_frozen is not None else [])
        self._zero_at: tuple[int, ...] | None = None
        self._mark_zero()

    def _versions(self) -> tuple[int, ...]:
        """In-place modification counters of g's (and the frozen copy's) parameters: an optimiser step,
        a reset or ``load_state_dict`` changes them."""
        return tuple(p._version for p in self._g_params)

    def _mark_zero(self) -> None:
        """g's output is exactly zero from here until a parameter changes (after init, ``reset_head`` or
        ``sync_frozen``: a zeroed last layer, or two identical nets subtracted)."""
        self._zero_at = self._versions()

    def g_is_zero(self) -> bool:
        """Whether g's output is known to be exactly zero (no parameter changed since it was zeroed)."""
        return self._zero_at is not None and self._versions() == self._zero_at

    def forward(self, obs: torch.Tensor, a0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std ``[B, A]`` of the kernel at ``(s, a0)``.

        While g's output is known to be exactly zero (every rollout step: the kernel is reset after each
        update) and no gradient is needed, g's nets are not evaluated: the result is the same bits, since
        ``x - x`` and ``h @ 0 + 0`` are exactly zero for finite values (tested)."""
        if not torch.is_grad_enabled() and self.g_is_zero():
            return self.base * a0, self.log_std.expand_as(a0).clamp(-20.0, 2.0).exp()
        x = torch.cat([obs, a0], dim=-1)
        out = self.g(x)
        if self.g_frozen is not None:
            out = out - self.g_frozen(x)
        log_std = self.log_std.expand_as(a0)
        if self.state_std:
            out, d = out.split(self.action_dim, dim=-1)
            log_std = log_std + d
        mean = self.base * a0 + out
        return mean, log_std.clamp(-20.0, 2.0).exp()

    def prior(self, a0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Langevin step toward N(0, I) the score regulariser aligns with: ``N((1 - h) a0, 2h I)``."""
        return (1.0 - self.h) * a0, torch.full_like(a0, math.sqrt(2.0 * self.h))

    @torch.no_grad()
    def sync_frozen(self) -> None:
        """``kernel_reset="delta"``: make the frozen copy equal to g again (g's output becomes zero)."""
        self.g_frozen.load_state_dict(self.g.state_dict())
        self._mark_zero()

    def head_parameters(self, std: bool = True) -> list[nn.Parameter]:
        """What ``reset_head`` resets: g's last layer and (``std``) the log-std."""
        last = [m for m in self.g.modules() if isinstance(m, nn.Linear)][-1]
        return [last.weight, last.bias] + ([self.log_std] if std else [])

    @torch.no_grad()
    def reset_head(self, std: bool = True) -> None:
        """Back to the initial kernel mean ``(1 - h) a0`` and (``std``) the initial std; hidden layers are kept."""
        zero_last_layer(self.g)
        if std:
            self.log_std.fill_(self.init_log_std)
        self._mark_zero()


class Critic(nn.Module):
    """``V(s)`` MLP."""

    def __init__(self, obs_dim: int, cfg: CPPOConfig):
        super().__init__()
        self.net = mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation, out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
