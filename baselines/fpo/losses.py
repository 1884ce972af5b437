"""Pure FPO loss pieces: per-pair conditional flow-matching losses, the CFM likelihood-ratio proxy,
and the two trust regions (PPO clipping, FPO++'s ASPO). Shapes: ``B`` actions, ``M`` MC pairs."""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["cfm_pair_losses", "mc_times", "fpo_ratio", "ppo_clip_loss", "aspo_loss", "policy_loss"]

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``velocity(x_t [B, M, A], t [B, M, 1]) -> [B, M, A]`` (the state closed over)."""


def cfm_pair_losses(velocity: Velocity, action: torch.Tensor, eps: torch.Tensor, t: torch.Tensor,
                    output: str = "u_but_supervise_as_eps") -> torch.Tensor:
    """Conditional flow-matching loss of each ``(eps_i, t_i)`` pair: ``[B, A], [B, M, A], [B, M, 1] -> [B, M]``.

    ``x_t = t eps + (1 - t) a``; the net predicts the velocity ``u_hat`` (target ``eps - a``).
    ``"u"``: ``mean_A (u_hat - (eps - a))^2``; ``"u_but_supervise_as_eps"`` (upstream default): the noise
    implied by ``u_hat`` is ``x_t + (1 - t) u_hat`` and the loss is ``mean_A (eps - x_t - (1 - t) u_hat)^2``
    (``(1 - t)^2`` times the ``"u"`` loss). Means over action dims, as upstream.
    """
    a = action.unsqueeze(-2)
    x_t = t * eps + (1.0 - t) * a
    u_hat = velocity(x_t, t)
    if output == "u":
        return (u_hat - (eps - a)).pow(2).mean(-1)
    if output == "u_but_supervise_as_eps":
        return (eps - (x_t + (1.0 - t) * u_hat)).pow(2).mean(-1)
    raise ValueError(f"unknown cfm_output {output!r}; allowed: 'u_but_supervise_as_eps', 'u'")


def mc_times(shape: tuple[int, ...], steps: int, mode: str, generator: torch.Generator,
             device: torch.device | str) -> torch.Tensor:
    """MC times ``[*shape, 1]``: uniform on the sampler's grid ``{1, 1 - 1/K, ..., 1/K}`` (``"grid"``,
    upstream) or ``U[0, 1]`` (``"uniform"``)."""
    if mode == "grid":
        k = torch.randint(0, steps, (*shape, 1), generator=generator, device=device)
        return 1.0 - k.float() / steps
    if mode == "uniform":
        return torch.rand((*shape, 1), generator=generator, device=device)
    raise ValueError(f"unknown t_sampling {mode!r}; allowed: 'grid', 'uniform'")


def fpo_ratio(old: torch.Tensor, new: torch.Tensor, mode: str, log_clip: float = 0.0) -> torch.Tensor:
    """FPO's ratio proxy from per-pair CFM losses ``[B, M]``.

    ``"averaged"`` (FPO): ``exp(mean_i old_i - mean_i new_i)`` -> ``[B, 1]``.
    ``"per_sample"`` (FPO++): ``exp(clamp(old_i - new_i, -log_clip, log_clip))`` -> ``[B, M]``
    (no clamp when ``log_clip == 0``).
    """
    if mode == "averaged":
        return torch.exp(old.mean(-1, keepdim=True) - new.mean(-1, keepdim=True))
    if mode == "per_sample":
        d = old - new
        if log_clip > 0:
            d = d.clamp(-log_clip, log_clip)
        return torch.exp(d)
    raise ValueError(f"unknown ratio {mode!r}; allowed: 'averaged', 'per_sample'")


def ppo_clip_loss(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """Element-wise PPO loss ``-min(r A, clip(r, 1 - e, 1 + e) A)`` (``adv`` broadcast against ``ratio``)."""
    return -torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv)


def aspo_loss(ratio: torch.Tensor, adv: torch.Tensor, clip: float, spo_clip: float) -> torch.Tensor:
    """Element-wise ASPO loss (FPO++): PPO's clipped loss where ``A > 0``; where ``A <= 0`` SPO's
    ``-(A r - |A| (r - 1)^2 / (2 spo_clip))``, a quadratic penalty that pulls r back to 1 instead of
    zeroing the gradient outside the clip range."""
    adv = adv.expand_as(ratio)
    spo = -(adv * ratio - adv.abs() * (ratio - 1.0).pow(2) / (2.0 * spo_clip))
    return torch.where(adv > 0, ppo_clip_loss(ratio, adv, clip), spo)


def policy_loss(ratio: torch.Tensor, adv: torch.Tensor, trust_region: str, clip: float, spo_clip: float) -> torch.Tensor:
    """Mean surrogate loss over actions (and MC pairs): ``ratio [B, 1 or M]``, ``adv [B]``."""
    a = adv.unsqueeze(-1)
    if trust_region == "ppo":
        return ppo_clip_loss(ratio, a, clip).mean()
    if trust_region == "aspo":
        return aspo_loss(ratio, a, clip, spo_clip).mean()
    raise ValueError(f"unknown trust_region {trust_region!r}; allowed: 'ppo', 'aspo'")
