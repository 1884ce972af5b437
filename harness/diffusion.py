"""Diffusion and flow building blocks shared by the diffusion-policy algorithms.

* ``GaussianDiffusion``: DDPM with epsilon-prediction (Ho et al. 2020), as used by DACER, QVPO and
  DIPO: forward noising, the closed-form posterior q(x_{t-1} | x_t, x0), x0 prediction with
  clipping, the ancestral sampler, the denoising loss.
* Schedules: ``vp_betas`` (DACER: ``alpha_t = exp(-b_min/T - 0.5 (b_max - b_min)(2t - 1)/T^2)``) and
  ``cosine_betas`` (Nichol & Dhariwal 2021, s = 0.008, beta <= 0.999; QVPO, DIPO).
* ``euler_flow``: K-step Euler integration of a flow-matching velocity field from t=0 to t=1 (CPPO).

Time indices passed to networks are integers ``0..T-1`` (``t = 0`` is the last denoising step).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = ["vp_betas", "cosine_betas", "GaussianDiffusion", "euler_flow", "euler_flow_indexed"]

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``eps_fn(x_t [B, A], t [B] long) -> predicted noise [B, A]`` (conditioning closed over)."""


def vp_betas(T: int, b_min: float = 0.1, b_max: float = 10.0) -> torch.Tensor:
    """DACER's variance-preserving schedule: ``beta_t = 1 - exp(-b_min/T - 0.5 (b_max-b_min)(2t-1)/T^2)``, t=1..T."""
    t = torch.arange(1, T + 1, dtype=torch.float64)
    alpha = torch.exp(-b_min / T - 0.5 * (b_max - b_min) * (2 * t - 1) / T**2)
    return (1.0 - alpha).float()


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Cosine schedule: ``alpha_bar(x) = cos^2(((x/T) + s)/(1 + s) * pi/2)``, betas from its ratios, clipped."""
    x = torch.linspace(0, T, T + 1, dtype=torch.float64)
    ab = torch.cos(((x / T) + s) / (1 + s) * math.pi * 0.5) ** 2
    ab = ab / ab[0]
    betas = 1.0 - ab[1:] / ab[:-1]
    return betas.clamp(max=max_beta).float()


class GaussianDiffusion:
    """DDPM quantities for a fixed beta schedule, on one device (all tables ``[T]``)."""

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    sqrt_ac: torch.Tensor
    sqrt_one_minus_ac: torch.Tensor
    sqrt_recip_ac: torch.Tensor
    sqrt_recipm1_ac: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_log_variance: torch.Tensor
    posterior_mean_coef1: torch.Tensor
    posterior_mean_coef2: torch.Tensor

    def __init__(self, betas: torch.Tensor, device: str | torch.device = "cpu"):
        b = betas.double()
        self.T = int(b.shape[0])
        alphas = 1.0 - b
        ac = torch.cumprod(alphas, 0)
        ac_prev = torch.cat([torch.ones(1, dtype=torch.float64), ac[:-1]])
        var = b * (1.0 - ac_prev) / (1.0 - ac)
        tables = {
            "betas": b,
            "alphas": alphas,
            "alphas_cumprod": ac,
            "alphas_cumprod_prev": ac_prev,
            "sqrt_ac": ac.sqrt(),
            "sqrt_one_minus_ac": (1.0 - ac).sqrt(),
            "sqrt_recip_ac": (1.0 / ac).sqrt(),
            "sqrt_recipm1_ac": (1.0 / ac - 1.0).sqrt(),
            "posterior_variance": var,
            "posterior_log_variance": torch.log(var.clamp(min=1e-20)),
            "posterior_mean_coef1": b * ac_prev.sqrt() / (1.0 - ac),
            "posterior_mean_coef2": (1.0 - ac_prev) * alphas.sqrt() / (1.0 - ac),
        }
        self.device = torch.device(device)
        for k, v in tables.items():
            setattr(self, k, v.float().to(self.device))

    @classmethod
    def vp(cls, T: int, device: str | torch.device = "cpu", **kw: float) -> "GaussianDiffusion":
        return cls(vp_betas(T, **kw), device)

    @classmethod
    def cosine(cls, T: int, device: str | torch.device = "cpu", **kw: float) -> "GaussianDiffusion":
        return cls(cosine_betas(T, **kw), device)

    @staticmethod
    def _at(table: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return table[t].reshape(-1, *([1] * (x.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Forward noising ``sqrt(ab_t) x0 + sqrt(1 - ab_t) eps``."""
        return self._at(self.sqrt_ac, t, x0) * x0 + self._at(self.sqrt_one_minus_ac, t, x0) * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self._at(self.sqrt_recip_ac, t, x_t) * x_t - self._at(self.sqrt_recipm1_ac, t, x_t) * eps

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x0)."""
        mean = self._at(self.posterior_mean_coef1, t, x_t) * x0 + self._at(self.posterior_mean_coef2, t, x_t) * x_t
        return mean, self._at(self.posterior_variance, t, x_t), self._at(self.posterior_log_variance, t, x_t)

    def p_sample_loop(
        self,
        eps_fn: EpsFn,
        shape: tuple[int, ...],
        generator: torch.Generator | None,
        *,
        clip: float | None = 1.0,
        noise_ratio: float = 1.0,
        x_T: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Ancestral sampling from x_T ~ N(0, I): x0 predicted (and clipped to ``[-clip, clip]``) at every
        step, posterior mean plus ``noise_ratio`` times its std (no noise at t = 0). Differentiable
        through every step when called with gradients enabled (DACER's actor loss)."""
        x = x_T if x_T is not None else torch.randn(shape, generator=generator, device=self.device)
        B = shape[0]
        for i in reversed(range(self.T)):
            t = torch.full((B,), i, dtype=torch.long, device=self.device)
            x0 = self.predict_x0(x, t, eps_fn(x, t))
            if clip is not None:
                x0 = x0.clamp(-clip, clip)
            mean, _, log_var = self.posterior(x0, x, t)
            if i > 0 and noise_ratio > 0:
                noise = torch.randn(shape, generator=generator, device=self.device)
                x = mean + noise_ratio * torch.exp(0.5 * log_var) * noise
            else:
                x = mean
        return x

    def loss(
        self, eps_fn: EpsFn, x0: torch.Tensor, generator: torch.Generator | None, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Denoising loss ``E_t,eps ||eps - eps_fn(q_sample(x0, t, eps), t)||^2`` (mean over action dims),
        optionally weighted per sample (QVPO), t ~ U{0..T-1}."""
        B = x0.shape[0]
        t = torch.randint(0, self.T, (B,), generator=generator, device=self.device)
        noise = torch.randn(x0.shape, generator=generator, device=self.device)
        err = (eps_fn(self.q_sample(x0, t, noise), t) - noise).pow(2).mean(-1)
        if weights is not None:
            err = err * weights.reshape(B)
        return err.mean()


def euler_flow(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor, steps: int
) -> torch.Tensor:
    """Integrate ``dx/dt = velocity(x, t)`` from t=0 to t=1 with ``steps`` Euler steps (``t`` passed as ``[B]``).

    A zero velocity field returns ``x0`` unchanged.
    """
    B = x0.shape[0]
    return euler_flow_indexed(
        lambda x, k: velocity(x, torch.full((B,), k / steps, dtype=x0.dtype, device=x0.device)), x0, steps
    )


def euler_flow_indexed(velocity_at: Callable[[torch.Tensor, int], torch.Tensor], x0: torch.Tensor, steps: int) -> torch.Tensor:
    """The same Euler integration with the velocity called as ``velocity_at(x, k)`` at ``t = k / steps``.

    For velocity nets that precompute per-step constants (time-embedding terms, state projections)
    once per call instead of once per step.
    """
    if steps < 1:
        raise ValueError(f"flow steps must be >= 1, got {steps}")
    x = x0
    dt = 1.0 / steps
    for k in range(steps):
        x = x + dt * velocity_at(x, k)
    return x
