"""Pure CPPO loss pieces. The PPO pieces (Gaussian log-prob/entropy, clipped surrogate, value loss)
are reused from ``harness.blocks.gaussian``; the old/new kernel KL is ``harness.optim.diag_gaussian_kl``.
"""

from __future__ import annotations

from typing import Callable

import torch

from harness.optim import diag_gaussian_kl

__all__ = ["score_regulariser", "flow_matching_loss", "sliced_wasserstein"]


def score_regulariser(
    mean: torch.Tensor, std: torch.Tensor, prior_mean: torch.Tensor, prior_std: torch.Tensor, mode: str
) -> torch.Tensor:
    """Per-sample ``[B]`` alignment of the kernel with one Langevin step ``N(prior_mean, prior_std^2)``.

    ``"kl"``: ``KL(N(mean, std^2) || N(prior_mean, prior_std^2))`` summed over action dims;
    ``"mean"``: only its mean term ``|mean - prior_mean|^2 / (2 prior_std^2)``; ``"off"``: zeros.
    """
    if mode == "kl":
        return diag_gaussian_kl(mean, std, prior_mean, prior_std)
    if mode == "mean":
        return ((mean - prior_mean).pow(2) / (2.0 * prior_std.pow(2))).sum(-1)
    if mode == "off":
        return torch.zeros(mean.shape[:-1], device=mean.device)
    raise ValueError(f"unknown score_reg {mode!r}; allowed: 'kl', 'mean', 'off'")


def flow_matching_loss(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    target: torch.Tensor,
    generator: torch.Generator | None,
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Conditional flow matching on the linear path (Lipman et al. 2023; Liu et al. 2023):
    ``x0 ~ N(0, I)``, ``t ~ U[0, 1]``, ``x_t = (1 - t) x0 + t a*``, loss ``||v(x_t, t) - (a* - x0)||^2``
    summed over action dims, averaged over the batch. ``velocity(x_t, t)`` closes over the states.
    ``x0`` given: use these source points (a coupling) instead of fresh noise."""
    B = target.shape[0]
    if x0 is None:
        x0 = torch.randn(target.shape, generator=generator, device=target.device)
    t = torch.rand((B,), generator=generator, device=target.device)
    x_t = (1.0 - t[:, None]) * x0 + t[:, None] * target
    return (velocity(x_t, t) - (target - x0)).pow(2).sum(-1).mean()


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, projections: int, generator: torch.Generator | None) -> torch.Tensor:
    """Sliced 2-Wasserstein distance between equal-size sample sets, batched over a leading dim.

    ``x, y: [S, M, A]`` (S independent pairs of M samples each) -> ``[S]``:
    ``sqrt(mean_theta W2^2(theta.x, theta.y))`` with ``projections`` random unit directions (shared by all S).
    In 1-D (A = 1) this is the exact W2 between the empirical distributions.
    """
    A = x.shape[-1]
    if A == 1:
        theta = torch.ones(1, 1, device=x.device)
    else:
        theta = torch.randn((A, projections), generator=generator, device=x.device)
        theta = theta / theta.norm(dim=0, keepdim=True).clamp(min=1e-12)
    px = (x @ theta).sort(dim=1).values  # [S, M, P]
    py = (y @ theta).sort(dim=1).values
    return (px - py).pow(2).mean(dim=(1, 2)).sqrt()

