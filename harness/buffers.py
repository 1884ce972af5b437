"""Buffers: the on-policy rollout storage with GAE.

(Off-policy replay buffers ``[num_envs x capacity]`` on the training device live here too once the
first off-policy baseline adds them.)
"""

from __future__ import annotations

from typing import Iterator

import torch

__all__ = ["gae", "RolloutBuffer"]


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over a ``[T, N]`` rollout.

    ``next_values[t]`` is V of the true successor of step t (the final observation where an episode
    ended, so time-outs bootstrap); ``terminated`` zeroes the bootstrap; ``done`` (terminated or
    truncated) cuts the recursion at episode boundaries. Returns ``(advantages, returns)``.
    """
    T = rewards.shape[0]
    not_term = 1.0 - terminated.float()
    not_done = 1.0 - done.float()
    deltas = rewards + gamma * not_term * next_values - values
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in range(T - 1, -1, -1):
        last = deltas[t] + gamma * lam * not_done[t] * last
        adv[t] = last
    return adv, adv + values


class RolloutBuffer:
    """Fixed ``[T, N]`` storage for one on-policy rollout, plus named extra fields.

    ``add`` writes one vector step; ``full`` says when T steps are in. Extra per-step tensors
    (log-probs, reference samples a0, ...) are declared with their trailing shape.
    """

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_dim: int,
        action_dim: int,
        device: str | torch.device,
        extras: dict[str, tuple[int, ...]] | None = None,
    ):
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs = T, N
        dev = torch.device(device)
        self.data: dict[str, torch.Tensor] = {
            "obs": torch.zeros(T, N, obs_dim, device=dev),
            "next_obs": torch.zeros(T, N, obs_dim, device=dev),
            "actions": torch.zeros(T, N, action_dim, device=dev),
            "rewards": torch.zeros(T, N, device=dev),
            "terminated": torch.zeros(T, N, dtype=torch.bool, device=dev),
            "truncated": torch.zeros(T, N, dtype=torch.bool, device=dev),
        }
        for name, shape in (extras or {}).items():
            self.data[name] = torch.zeros(T, N, *shape, device=dev)
        self.last_obs = torch.zeros(N, obs_dim, device=dev)
        self.step = 0

    def add(self, **fields: torch.Tensor) -> None:
        """Store one vector step; every declared field must be given."""
        if self.step >= self.num_steps:
            raise RuntimeError("rollout buffer is full; call clear() after the update")
        missing = set(self.data) - set(fields)
        if missing:
            raise KeyError(f"rollout step lacks fields {sorted(missing)}")
        for k, v in fields.items():
            self.data[k][self.step] = v
        self.step += 1

    @property
    def full(self) -> bool:
        return self.step >= self.num_steps

    def clear(self) -> None:
        self.step = 0

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.data[key]

    def minibatches(
        self, tensors: dict[str, torch.Tensor], num_minibatches: int, generator: torch.Generator
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Shuffle ``[T, N, ...]`` tensors flattened to ``[T*N, ...]`` into ``num_minibatches`` slices."""
        flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in tensors.items()}
        total = self.num_steps * self.num_envs
        perm = torch.randperm(total, generator=generator, device=generator.device).to(next(iter(flat.values())).device)
        size = total // num_minibatches
        for i in range(num_minibatches):
            idx = perm[i * size : (i + 1) * size]
            yield {k: v[idx] for k, v in flat.items()}
