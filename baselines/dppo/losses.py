"""DPPO's loss pieces (irom-lab/dppo@7b10df6 ``model/diffusion/diffusion_ppo.py``, ``PPODiffusion.loss``):
the chain log-likelihood, the per-step ratio terms, the per-step clip and denoising discount."""

from __future__ import annotations

import math

import torch

__all__ = ["chain_log_prob", "ratio_log_probs", "denoising_clip_coefs", "denoising_discounts", "dppo_policy_loss"]


def chain_log_prob(step_log_probs: torch.Tensor) -> torch.Tensor:
    """Log-likelihood of the fine-tuned part of a chain: the sum of its step Gaussians' log-densities
    over steps and action dims, ``[B, ft, A] -> [B]`` (reported; PPO's ratio is taken per step)."""
    return step_log_probs.sum(dim=(-1, -2))


def ratio_log_probs(step_log_probs: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """What upstream's ratio uses per denoising step: per-dimension log-probs clamped to [lo, hi], then
    averaged over action dims: ``[B, ft, A] -> [B, ft]``."""
    return step_log_probs.clamp(lo, hi).mean(-1)


def denoising_clip_coefs(ft: int, clip: float, base: float, rate: float, device=None) -> torch.Tensor:
    """Per-step PPO clip ``[ft]``: exponential interpolation from ``base`` (first fine-tuned step,
    noisiest) to ``clip`` (last step); ``clip`` alone when ft = 1."""
    if ft == 1:
        return torch.tensor([clip], device=device)
    t = torch.arange(ft, dtype=torch.float32, device=device) / (ft - 1)
    return base + (clip - base) * (torch.exp(rate * t) - 1.0) / (math.exp(rate) - 1.0)


def denoising_discounts(ft: int, gamma: float, device=None) -> torch.Tensor:
    """``[gamma^(ft-1), ..., gamma, 1]``: the env advantage seen by chain step j is discounted by the
    ``ft - 1 - j`` denoising steps left until the action."""
    return gamma ** torch.arange(ft - 1, -1, -1, dtype=torch.float32, device=device)


def dppo_policy_loss(
    new_lp: torch.Tensor, old_lp: torch.Tensor, adv: torch.Tensor, clip: torch.Tensor, discount: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clipped surrogate over (sample, denoising step) pairs: ``new_lp, old_lp [B, ft]``, ``adv [B]``,
    ``clip, discount [ft]``. Returns ``(loss, ratio [B, ft], approx_kl)`` with the k3 KL estimate
    ``mean((ratio - 1) - log ratio)`` (upstream's ``approx_kl``)."""
    log_ratio = new_lp - old_lp
    ratio = log_ratio.exp()
    a = adv[:, None] * discount[None, :]
    lo, hi = 1.0 - clip[None, :], 1.0 + clip[None, :]
    loss = torch.max(-a * ratio, -a * torch.min(torch.max(ratio, lo), hi)).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
    return loss, ratio, approx_kl
