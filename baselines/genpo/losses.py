"""GenPO's loss pieces beyond PPO's (clipped surrogate and value loss come from the shared PPO
losses): entropy estimates of the flow policy, the compression loss, the schedule's KL rule."""

from __future__ import annotations

from typing import Callable

import torch

from .networks import standard_normal_log_prob

__all__ = ["logprob_entropy", "importance_entropy", "compression_loss", "kl_for_schedule"]


def logprob_entropy(log_prob: torch.Tensor) -> torch.Tensor:
    """``-mean log pi(a | s)`` at the rollout's own actions (a Monte Carlo entropy estimate, and what
    upstream's FlowPPO.update uses as its entropy term): ``[B] -> []``."""
    return -log_prob.mean()


def importance_entropy(
    log_prob_fn: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, int], std: float,
    generator: torch.Generator | None, device: torch.device | str,
) -> torch.Tensor:
    """Entropy by importance sampling with a wide Gaussian proposal q = N(0, std^2 I) on the doubled
    action (upstream ``ActorCriticFlow.entropy``): ``H(s) ~= -E_q[(pi(x|s) / q(x)) log pi(x|s)]``, one
    proposal sample per state (``shape = (B, 2A)``), averaged over the batch. Upstream sums over the
    batch instead of averaging; ``log_prob_fn(x) -> [B]`` closes over the states."""
    x = std * torch.randn(shape, generator=generator, device=device)
    log_q = standard_normal_log_prob(x, std)
    log_p = log_prob_fn(x)
    w = torch.exp(log_p - log_q)
    return -(w * log_p).mean()


def compression_loss(x: torch.Tensor, action_dim: int) -> torch.Tensor:
    """``mean ||z - y||`` over fresh doubled samples ``x = [z, y]`` ``[B, 2A]``: pulls the two halves
    together so the executed mean ``(z + y) / 2`` loses little of the flow's spread."""
    z, y = x.split(action_dim, dim=-1)
    return (z - y).norm(dim=-1).mean()


def kl_for_schedule(kl: float) -> float:
    """Upstream's adaptive rule raises the lr when ``-1e-4 < kl < desired / 2`` (its sample KL
    ``mean(logp_old - logp_new)`` can be slightly negative); the shared ``AdaptiveKL`` raises it only
    for ``0 < kl``, so a small non-positive estimate is mapped to a tiny positive one."""
    return max(kl, 1e-12) if kl > -1e-4 else kl
