"""VecEnv protocol and EnvSpec: the contract between suites and the runner.

A VecEnv is a batch of ``num_envs`` environments on one torch device. All inputs and outputs are
batched torch tensors on ``spec.device``. Actions live in ``[-1, 1]^A``; the adapter scales and
clips them to the simulator. Auto-reset happens inside ``step``.

``step`` returns ``(obs, reward, terminated, truncated, info)`` where

* ``obs``        float32 ``[N, obs_dim]``: observation after auto-reset (what the policy sees next);
* ``reward``     float32 ``[N]``;
* ``terminated`` bool ``[N]``: the episode ended in a terminal state (no bootstrap);
* ``truncated``  bool ``[N]``: the episode hit its time limit (bootstrap from the final obs);
  the two are never merged and never both true;
* ``info``       dict with optional keys
  - ``"final_obs"``: float32 ``[N, obs_dim]``, the pre-reset observation of envs that just ended
    (rows of envs that did not end are unspecified). Absent where the simulator cannot provide it
    (IsaacLab's ``DirectRLEnv``): agents then fall back to a documented approximation.
  - ``"outcome"``: int64 ``[N]``, a task-defined per-episode outcome of envs that just ended
    (e.g. the MultiGoal goal index reached), ``-1`` for none.

Optional methods the runner uses when present:

* ``compile()``: trigger JIT of reset and step without changing env state (timed as compile time);
* ``set_episode_steps(steps)``: after ``reset()``, set each env's elapsed step count in its current
  episode (int64 ``[N]`` in ``[0, episode_length)``), so env ``i`` hits its time limit after
  ``episode_length - steps[i]`` steps: desynchronised starts (``RunSpec.desync``) need it;
* ``reseed(seed)``: restart the env's random stream so the next ``reset()`` gives the same states as
  a fresh env built with ``seed`` (evaluation reuses one env instead of rebuilding and re-JITting it);
* ``env_state() -> dict`` / ``load_env_state(state)``: the complete state of the training env (every
  env's simulator state, step counter and random stream) as tensors in plain containers (checkpoints
  load with ``torch.load(weights_only=True)``), and its restoration into an env built with the same
  arguments and ``reset()``. With them a resumed run continues exactly where the checkpoint was taken
  (bitwise resume); without them (IsaacLab) a resumed run restarts its envs from a fresh reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["EnvSpec", "VecEnv", "StepResult"]

StepResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]


@dataclass(frozen=True)
class EnvSpec:
    """Static facts about a VecEnv that an agent needs to build itself."""

    obs_dim: int
    """Length of the flat float observation vector."""
    action_dim: int
    """Number of action dimensions; every action lies in [-1, 1]."""
    num_envs: int
    """Batch size of the VecEnv."""
    episode_length: int
    """Time limit in agent steps (after action repeat)."""
    dt: float
    """Control period in seconds of simulated time (1.0 for abstract toy tasks)."""
    device: str
    """Torch device the tensors live on, e.g. ``"cpu"`` or ``"cuda:0"``."""
    action_repeat: int = 1
    """Simulator steps per agent step; env steps are counted as transitions x action_repeat."""


@runtime_checkable
class VecEnv(Protocol):
    """Batched, auto-resetting environment on one torch device (see module docstring)."""

    spec: EnvSpec

    def reset(self) -> torch.Tensor:
        """Reset every env; return observations ``[N, obs_dim]``."""
        ...

    def step(self, action: torch.Tensor) -> StepResult:
        """Advance every env by one agent step with ``action`` ``[N, A]`` in [-1, 1]."""
        ...

    def close(self) -> None:
        """Release simulator resources."""
        ...
