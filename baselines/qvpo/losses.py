"""QVPO's pure pieces: best-of-K selection, Q transforms (weights), the uniform-action entropy term,
its coefficient schedule, and the TD target.

After wadx2019/qvpo@40a1974: ``agent/diffusion.py`` (``sample``, ``sample_n``),
``agent/q_transform.py``, ``agent/qvpo.py`` (``train``) and ``main.py`` (entropy_alpha schedule).
Shapes: B states, K candidates per state, A action dims.
"""

from __future__ import annotations

import torch

__all__ = [
    "select_best",
    "q_weights",
    "entropy_alpha_at",
    "add_uniform_actions",
    "td_target",
    "critic_loss",
]


def select_best(actions: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick, per state, the candidate with the largest Q.

    ``actions [B, K, A]``, ``q [B, K]`` -> ``(best_actions [B, A], best_q [B])``.
    """
    idx = q.argmax(dim=1)
    rows = torch.arange(q.shape[0], device=q.device)
    return actions[rows, idx], q[rows, idx]


def q_weights(
    transform: str,
    q_best: torch.Tensor,
    q_all: torch.Tensor,
    *,
    q_neg: float = 0.0,
    cut: float = 1.0,
    beta: float = 1.0,
    running_mean: float | torch.Tensor = 0.0,
    running_std: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """Weight ``[B]`` of each state's best candidate in the denoising loss.

    * ``qadv``  (upstream default): ``max(Q_best - mean_k Q_k, 0)``, the advantage of the best of the
      K samples over their mean (a Monte-Carlo V(s) of the current policy);
    * ``qrelu``: ``max(Q_best, -q_neg) + q_neg``;
    * ``qexpn``: ``exp(beta * clip((Q_best - running_mean) / running_std, -8, 8))``;
    * ``qcut``:  ``max(Q_best, cut)``.
    """
    if transform == "qadv":
        return (q_best - q_all.mean(dim=1)).clamp(min=0.0)
    if transform == "qrelu":
        return q_best.clamp(min=-q_neg) + q_neg
    if transform == "qexpn":
        z = ((q_best - running_mean) / running_std).clamp(-8.0, 8.0)
        return torch.exp(beta * z)
    if transform == "qcut":
        return q_best.clamp(min=cut)
    raise ValueError(f"unknown q_transform {transform!r}; allowed: qadv, qrelu, qexpn, qcut")


def entropy_alpha_at(env_steps: int, alpha0: float, floor: float, horizon: int) -> float:
    """Upstream's linear decay ``min(alpha0, max(floor, alpha0 - alpha0 * env_steps / horizon))``."""
    return min(alpha0, max(floor, alpha0 - alpha0 * env_steps / horizon))


def add_uniform_actions(
    obs: torch.Tensor,
    actions: torch.Tensor,
    weights: torch.Tensor,
    num: int,
    alpha: float,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Append ``num`` uniform actions in ``[-1, 1]^A`` per state, each weighted ``alpha * w(s)``.

    ``obs [B, S]``, ``actions [B, A]``, ``weights [B]`` -> the same three with ``B * (1 + num)`` rows:
    the B original rows first, then ``num`` blocks of B rows (state b of every block is ``obs[b]``).
    This pulls the diffusion policy toward the uniform distribution where the best action is good,
    QVPO's entropy regulariser.
    """
    if num <= 0:
        return obs, actions, weights
    B, A = actions.shape
    uni = torch.rand((num * B, A), generator=generator, device=actions.device) * 2.0 - 1.0
    obs_u = obs.repeat(num, 1)
    w_u = weights.repeat(num) * alpha
    return torch.cat([obs, obs_u]), torch.cat([actions, uni]), torch.cat([weights, w_u])


def td_target(reward: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor, gamma: float) -> torch.Tensor:
    """``r + gamma * (1 - terminated) * Q'``: only true terminal states cut the bootstrap (time-outs
    bootstrap; upstream's ``mask = 0 if done`` also cut it at time-outs)."""
    return reward + gamma * (~terminated).to(next_q.dtype) * next_q


def critic_loss(q1: torch.Tensor, q2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum of the twin MSEs (upstream ``F.mse_loss(q1, y) + F.mse_loss(q2, y)``)."""
    return (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()
