"""PPO's loop for policies without a stored Gaussian (GenPO, DPPO), plus the shared on-policy pieces
those algorithms build on, gathered in one module (re-exported so each algorithm imports from here).

GenPO and DPPO import the rollout bookkeeping (``RolloutMixin``: GAE with time-out bootstrap,
checkpoint state), the rollout buffer, observation normalisation, rsl_rl's adaptive-KL schedule,
PPO's clipped surrogate and value loss, and PPO's loop settings (``PPOLoopConfig``) from here only,
so that moving those pieces (e.g. into ``harness/blocks/``) changes the imports of this file alone.

What is new here is ``ppo_epochs``: PPO's ``epochs x minibatches`` loop for a policy whose
log-likelihood is not a diagonal Gaussian of a stored mean and std (Gaussian PPO's
``PPOUpdateMixin._ppo_epochs`` reads those), so each algorithm passes its own minibatch loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..buffers import RolloutBuffer
from ..diffusion import GaussianDiffusion
from ..env import EnvSpec
from ..nn import SinusoidalEmbedding, mlp, seeded_init
from ..normalization import RunningNorm
from ..optim import AdaptiveKL
from ..registry import register_algorithm
from ..seeding import RunSeeds
from .gaussian import clipped_surrogate, value_loss
from .ppo import PPOLoopConfig, RolloutMixin

__all__ = [
    "PPOLoopConfig", "clipped_surrogate", "value_loss", "RolloutBuffer", "GaussianDiffusion", "EnvSpec",
    "SinusoidalEmbedding", "mlp", "seeded_init", "RunningNorm", "RolloutMixin", "AdaptiveKL",
    "register_algorithm", "RunSeeds", "MinibatchResult", "ppo_epochs", "normalised_advantages", "finish_iteration",
]

Minibatch = dict[str, torch.Tensor]


@dataclass
class MinibatchResult:
    """What an algorithm's minibatch loss returns to ``ppo_epochs``."""

    loss: torch.Tensor
    """Scalar to minimise (policy + value + any extra terms)."""
    kl: torch.Tensor
    """Scalar old->new KL estimate at the current parameters, before this step (for the adaptive lr
    and ``target_kl``)."""
    ratio: torch.Tensor
    """Importance ratios of this minibatch (the first minibatch's are returned: exactly 1)."""
    stats: dict[str, torch.Tensor]
    """Detached scalars to average over the update."""


def normalised_advantages(host, mode: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(values, advantages, returns)`` of ``host``'s rollout (``RolloutMixin._advantages``: GAE with
    time-out bootstrap), advantages normalised over the whole rollout when ``mode == "rollout"``."""
    values, adv, returns = host._advantages()
    if mode == "rollout":
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return values, adv, returns


def ppo_epochs(
    host,
    data: dict[str, torch.Tensor],
    minibatch_loss: Callable[[Minibatch], MinibatchResult],
    clip_params: list[torch.nn.Parameter],
    *,
    kl_for_schedule: Callable[[float], float] = lambda kl: kl,
    target_kl: float = 0.0,
) -> tuple[dict[str, float], int, torch.Tensor | None]:
    """PPO's ``epochs x minibatches`` over ``data`` (``[T, N, ...]`` tensors), one optimiser step each.

    ``host`` provides ``cfg`` (``epochs``, ``minibatches``, ``schedule``, ``max_grad_norm``),
    ``buffer`` (for the shuffled minibatches), ``gen``, ``optimizer`` and ``kl_schedule``.
    With ``cfg.schedule == "adaptive"`` the learning rate of the optimiser's *first* parameter group
    follows rsl_rl's adaptive-KL rule on ``kl_for_schedule(result.kl)`` (checked before the step, as
    rsl_rl). Gradients of ``clip_params`` are clipped to ``cfg.max_grad_norm`` (0 = no clipping).
    ``target_kl > 0``: stop the update once a minibatch's KL exceeds it (DPPO / CleanRL), after that
    minibatch's step. Returns (mean statistics, minibatch steps taken, ratios of the first minibatch).
    """
    cfg = host.cfg
    sums: dict[str, torch.Tensor | float] = {}
    n, first_ratio = 0, None
    for _ in range(cfg.epochs):
        stop = False
        for mb in host.buffer.minibatches(data, cfg.minibatches, host.gen):
            res = minibatch_loss(mb)
            kl = float(res.kl)
            if cfg.schedule == "adaptive":
                host.optimizer.param_groups[0]["lr"] = host.kl_schedule.step(kl_for_schedule(kl))
            host.optimizer.zero_grad(set_to_none=True)
            res.loss.backward()
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(clip_params, cfg.max_grad_norm)
            host.optimizer.step()
            if first_ratio is None:
                first_ratio = res.ratio.detach()
            for k, v in (("approx_kl", res.kl), *res.stats.items()):
                sums[k] = sums.get(k, 0.0) + v.detach()
            n += 1
            if target_kl > 0 and kl > target_kl:
                stop = True
                break
        if stop:
            break
    return {k: float(v) / n for k, v in sums.items()}, n, first_ratio


def finish_iteration(host, out: dict[str, float], gradient_steps: int, **extra: float) -> dict[str, float]:
    """The end of a :func:`ppo_epochs` update shared by its hosts: update the observation normaliser
    with the rollout, add the iteration's statistics (lr, first-minibatch ratio deviation, gradient
    steps, mean reward, action spread, ``extra``) to ``out``, clear the buffer, count the iteration."""
    b = host.buffer
    if host.obs_norm is not None:
        host.obs_norm.update(b["obs"])
    out.update(
        lr=host.optimizer.param_groups[0]["lr"], first_ratio_dev=float((host.first_ratio - 1.0).abs().max()),
        gradient_steps=float(gradient_steps), mean_reward=float(b["rewards"].mean()), **extra,
        action_std=float(b["actions"].std(dim=(0, 1)).mean()),
    )
    b.clear()
    host.iterations += 1
    return out
