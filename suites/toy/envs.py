"""Torch-native vectorised toy tasks: instant, deterministic under a seed, any device.

* ``MultiGoal``: a 2-D point mass starting near the origin with 4 goals at distance 1 on the axes,
  all equally rewarding. Reward per step: potential shaping ``10 * (d_prev - d_new)`` where d is the
  distance to the rim of the nearest goal (``max(|p - g| - 0.1, 0)``, so overshooting into a goal
  earns nothing extra), ``-0.05`` time cost, ``+10`` bonus and termination on entering a goal's radius 0.1;
  time-out after 50 steps. The reached goal (0 east, 1 north, 2 west, 3 south) is reported per
  episode in ``info["outcome"]``. Known optimum from the origin: 10·0.9 + 10 − 9·0.05 = 18.55.
* ``Target1D``: move a 1-D point to x = 0.5; reward ``-|x - 0.5|`` per step, 20 steps, no
  termination. Learns in seconds: for smoke tests.
"""

from __future__ import annotations

import math

import torch

from harness.env import EnvSpec

__all__ = ["MultiGoal", "Target1D", "MULTIGOAL_GOALS"]

MULTIGOAL_GOALS = ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))


class _TorchVecEnv:
    """Shared auto-reset bookkeeping for the toy envs."""

    spec: EnvSpec

    def __init__(self, num_envs: int, seed: int, device: str, obs_dim: int, action_dim: int, episode_length: int):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.spec = EnvSpec(obs_dim, action_dim, num_envs, episode_length, 1.0, str(device))
        self.device = torch.device(device)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(int(seed))
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    def set_episode_steps(self, steps: torch.Tensor) -> None:
        """Desynchronised starts: env ``i`` is ``steps[i]`` steps into its current episode."""
        self.t = steps.to(self.device, torch.long).clone()

    def reseed(self, seed: int) -> None:
        """Restart the random stream: the next ``reset()`` gives the states of a fresh env with ``seed``."""
        self.gen.manual_seed(int(seed))

    state_fields: tuple[str, ...] = ()
    """Tensor attributes holding the envs' simulator state (besides the step counter ``t``)."""

    def env_state(self) -> dict:
        """Everything the future of the envs depends on: state tensors, step counters, random stream."""
        return {"fields": {k: getattr(self, k).clone() for k in self.state_fields}, "t": self.t.clone(),
                "gen": self.gen.get_state()}

    def load_env_state(self, state: dict) -> None:
        """Restore what ``env_state`` returned (bitwise resume)."""
        for k in self.state_fields:
            setattr(self, k, state["fields"][k].to(self.device).clone())
        self.t = state["t"].to(self.device, torch.long).clone()
        self.gen.set_state(state["gen"].cpu())

    def _goal_step_end(self, reward: torch.Tensor, reached: torch.Tensor, nearest: torch.Tensor):
        """End of a goal-reaching step (``self.pos`` already moved): count the step, end the episode on a
        reached goal (terminated) or at the time limit (truncated), auto-reset the ended envs from
        ``self._start`` and report the reached goal index (-1: none) as the outcome."""
        self.t += 1
        terminated = reached
        truncated = (self.t >= self.spec.episode_length) & ~terminated
        done = terminated | truncated
        outcome = torch.where(reached, nearest, torch.full_like(nearest, -1))
        final_obs = self.pos.clone()
        if bool(done.any()):
            fresh = self._start(self.spec.num_envs)
            self.pos = torch.where(done[:, None], fresh, self.pos)
            self.t = torch.where(done, torch.zeros_like(self.t), self.t)
        info = {"final_obs": final_obs, "outcome": outcome}  # reached implies done: -1 on every other env
        return self.pos.clone(), reward, terminated, truncated, info

    def _uniform(self, *shape: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=self.gen, device=self.device)

    def close(self) -> None:
        pass


class MultiGoal(_TorchVecEnv):
    """Four equally good goals; see module docstring."""

    state_fields = ("pos",)
    step_size = 0.1
    goal_radius = 0.1
    start_noise = 0.05

    def __init__(self, num_envs: int, seed: int, device: str = "cpu", episode_length: int = 50):
        super().__init__(num_envs, seed, device, obs_dim=2, action_dim=2, episode_length=episode_length)
        self.goals = torch.tensor(MULTIGOAL_GOALS, dtype=torch.float32, device=self.device)
        self.pos = torch.zeros(num_envs, 2, device=self.device)

    def _start(self, n: int) -> torch.Tensor:
        return self._uniform(n, 2, low=-self.start_noise, high=self.start_noise)

    def _dist(self, pos: torch.Tensor) -> torch.Tensor:
        return torch.cdist(pos, self.goals)  # [N, 4] centre distances

    def _rim(self, dist: torch.Tensor) -> torch.Tensor:
        return (dist.min(dim=-1).values - self.goal_radius).clamp(min=0.0)

    def reset(self) -> torch.Tensor:
        self.pos = self._start(self.spec.num_envs)
        self.t.zero_()
        return self.pos.clone()

    def step(self, action: torch.Tensor):
        a = action.to(self.device, torch.float32).clamp(-1.0, 1.0)
        norm = a.norm(dim=-1, keepdim=True).clamp(min=1.0)
        d_prev = self._rim(self._dist(self.pos))
        self.pos = self.pos + self.step_size * a / norm
        dist = self._dist(self.pos)
        centre, nearest = dist.min(dim=-1)
        reached = centre <= self.goal_radius + 1e-6
        reward = 10.0 * (d_prev - self._rim(dist)) - 0.05 + 10.0 * reached.float()
        return self._goal_step_end(reward, reached, nearest)


class Target1D(_TorchVecEnv):
    """Reach x = 0.5 on a line; see module docstring."""

    state_fields = ("x",)
    target = 0.5

    def __init__(self, num_envs: int, seed: int, device: str = "cpu", episode_length: int = 20):
        super().__init__(num_envs, seed, device, obs_dim=1, action_dim=1, episode_length=episode_length)
        self.x = torch.zeros(num_envs, 1, device=self.device)

    def reset(self) -> torch.Tensor:
        self.x = self._uniform(self.spec.num_envs, 1, low=-1.0, high=1.0)
        self.t.zero_()
        return self.x.clone()

    def step(self, action: torch.Tensor):
        a = action.to(self.device, torch.float32).clamp(-1.0, 1.0)
        self.x = (self.x + 0.2 * a).clamp(-2.0, 2.0)
        reward = -(self.x[:, 0] - self.target).abs()
        self.t += 1
        truncated = self.t >= self.spec.episode_length
        terminated = torch.zeros_like(truncated)
        final_obs = self.x.clone()
        if bool(truncated.any()):
            fresh = self._uniform(self.spec.num_envs, 1, low=-1.0, high=1.0)
            self.x = torch.where(truncated[:, None], fresh, self.x)
            self.t = torch.where(truncated, torch.zeros_like(self.t), self.t)
        return self.x.clone(), reward, terminated, truncated, {"final_obs": final_obs}


def optimal_multigoal_return() -> float:
    """Return of the straight-line policy from the origin (the reference maximum)."""
    steps = math.ceil(round((1.0 - MultiGoal.goal_radius) / MultiGoal.step_size, 9))
    return 10.0 * (1.0 - MultiGoal.goal_radius) + 10.0 - 0.05 * steps
