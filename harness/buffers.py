"""Buffers: on-policy rollout storage with GAE, and the off-policy replay buffer
``[num_envs x capacity]`` on the training device."""

from __future__ import annotations

from typing import Any, Iterator

import torch

__all__ = ["gae", "RolloutBuffer", "ReplayBuffer"]


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

    def state_dict(self) -> dict[str, Any]:
        """The rollout in progress: copies of the ``step`` vector steps stored so far, the fill level and
        the last carried observation (a checkpoint taken mid-rollout resumes the same rollout)."""
        return {"data": {k: v[: self.step].clone() for k, v in self.data.items()}, "step": self.step,
                "last_obs": self.last_obs.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved (the slots past ``step`` are overwritten before use)."""
        step = int(state["step"])
        for k, v in state["data"].items():
            self.data[k][:step].copy_(v)
        self.last_obs.copy_(state["last_obs"])
        self.step = step

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


class ReplayBuffer:
    """Off-policy ring buffer shaped ``[num_envs, capacity]`` on the training device (FastTD3-style).

    One vector step writes one column; sampling draws ``(env, slot)`` pairs uniformly among the
    filled slots with the caller's generator. ``sample`` returns the indices too, so algorithms
    can write back into a field (DIPO's diffusion memory). Extra per-transition fields can be
    declared with their trailing shape.
    """

    def __init__(
        self,
        num_envs: int,
        capacity_per_env: int,
        obs_dim: int,
        action_dim: int,
        device: str | torch.device,
        extras: dict[str, tuple[int, ...]] | None = None,
    ):
        if capacity_per_env < 1:
            raise ValueError("replay capacity per env must be >= 1")
        N, C = num_envs, capacity_per_env
        dev = torch.device(device)
        self.num_envs, self.capacity = N, C
        self.device = dev
        self.data: dict[str, torch.Tensor] = {
            "obs": torch.zeros(N, C, obs_dim, device=dev),
            "actions": torch.zeros(N, C, action_dim, device=dev),
            "rewards": torch.zeros(N, C, device=dev),
            "next_obs": torch.zeros(N, C, obs_dim, device=dev),
            "terminated": torch.zeros(N, C, dtype=torch.bool, device=dev),
            "truncated": torch.zeros(N, C, dtype=torch.bool, device=dev),
        }
        for name, shape in (extras or {}).items():
            self.data[name] = torch.zeros(N, C, *shape, device=dev)
        self.pos = 0
        self.size = 0

    def add(self, **fields: torch.Tensor) -> None:
        """Write one vector step (every declared field, each ``[num_envs, ...]``)."""
        missing = set(self.data) - set(fields)
        if missing:
            raise KeyError(f"replay step lacks fields {sorted(missing)}")
        for k, v in fields.items():
            self.data[k][:, self.pos] = v
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def __len__(self) -> int:
        """Number of stored transitions (all envs)."""
        return self.size * self.num_envs

    def sample_indices(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        env = torch.randint(0, self.num_envs, (batch,), generator=generator, device=generator.device).to(self.device)
        slot = torch.randint(0, self.size, (batch,), generator=generator, device=generator.device).to(self.device)
        return env, slot

    def sample(self, batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A uniform batch ``{field: [batch, ...]}`` plus ``"index"`` = ``(env, slot)`` for write-back."""
        env, slot = self.sample_indices(batch, generator)
        out = {k: v[env, slot] for k, v in self.data.items()}
        out["index"] = torch.stack([env, slot])
        return out

    def write(self, name: str, index: torch.Tensor, values: torch.Tensor) -> None:
        """Overwrite field ``name`` at the ``(env, slot)`` rows ``index`` came from."""
        self.data[name][index[0], index[1]] = values

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: copies of the filled slots only (the ring is full once it wrapped), plus the
        write position and fill level; fields written back in place (DIPO's improved actions) included."""
        return {"data": {k: v[:, : self.size].clone() for k, v in self.data.items()}, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved (also accepts full-capacity data)."""
        for k, v in state["data"].items():
            self.data[k][:, : v.shape[1]].copy_(v)
        self.pos, self.size = int(state["pos"]), int(state["size"])
