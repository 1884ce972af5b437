"""IsaacLab suite (``isaaclab/<Isaac-id>``): registration only, no isaaclab import.

Nine common IsaacLab 2.3 tasks, preset ``isaaclab``, 4096 envs. Episode lengths are
``ceil(episode_length_s / (sim.dt * decimation))`` of each task's env cfg; budgets are the rsl_rl
PPO runner's ``max_iterations x num_steps_per_env x 4096`` (isaaclab 2.3 configs), with ten
evaluations per run. The factory is ``factory(num_envs, seed, device="cuda:0", **kwargs)`` with the
optional ``env_maker``, ``action_scale``, ``clip_actions`` (see ``suites.isaaclab.adapter``);
``available()`` says what is missing where IsaacLab cannot run (see README.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from harness.registry import TaskSpec, register_task

__all__ = ["ISAACLAB_TASKS", "IsaacLabTask", "make_env", "available"]

SUITE = "isaaclab"
NUM_ENVS = 4096
EVAL_EPISODES = 10


@dataclass(frozen=True)
class IsaacLabTask:
    """Static facts of one IsaacLab task (isaaclab 2.3 env cfg and rsl_rl runner cfg)."""

    name: str
    """Gym id, e.g. ``"Isaac-Cartpole-Direct-v0"``."""
    episode_length: int
    """``max_episode_length`` in agent steps."""
    step_dt: float
    """``sim.dt * decimation`` in seconds."""
    rsl_iterations: int
    """rsl_rl ``max_iterations``."""
    rsl_steps_per_env: int
    """rsl_rl ``num_steps_per_env``."""
    note: str = ""

    @property
    def env_steps(self) -> int:
        """Default budget: rsl_rl iterations x steps per env x 4096 envs."""
        return self.rsl_iterations * self.rsl_steps_per_env * NUM_ENVS


ISAACLAB_TASKS: tuple[IsaacLabTask, ...] = (
    IsaacLabTask("Isaac-Cartpole-Direct-v0", 300, 1 / 60, 150, 16, "5 s at 1/120 x 2"),
    IsaacLabTask("Isaac-Ant-Direct-v0", 900, 1 / 60, 1000, 32, "15 s at 1/120 x 2"),
    IsaacLabTask("Isaac-Humanoid-Direct-v0", 900, 1 / 60, 1000, 32, "15 s at 1/120 x 2"),
    IsaacLabTask("Isaac-Lift-Cube-Franka-v0", 250, 0.02, 1500, 24, "5 s at 0.01 x 2"),
    IsaacLabTask("Isaac-Velocity-Rough-Anymal-D-v0", 1000, 0.02, 1500, 24, "20 s at 0.005 x 4"),
    IsaacLabTask(
        "Isaac-Velocity-Rough-Go2-v0", 1000, 0.02, 1500, 24,
        "20 s at 0.005 x 4, inherited from the rough-velocity base cfg (approximate: not checked in the 2.3.2 wheel)",
    ),
    IsaacLabTask(
        "Isaac-Velocity-Rough-H1-v0", 1000, 0.02, 3000, 24,
        "20 s at 0.005 x 4, inherited from the rough-velocity base cfg (approximate: not checked in the 2.3.2 wheel)",
    ),
    IsaacLabTask(
        "Isaac-Repose-Cube-Shadow-Direct-v0", 600, 1 / 60, 10000, 16,
        "10 s at 1/120 x 2; upstream trains with 8192 envs, the budget here uses 4096",
    ),
    IsaacLabTask("Isaac-Quadcopter-Direct-v0", 500, 0.02, 200, 24, "10 s at 1/100 x 2"),
)


def make_env(task: str, num_envs: int, seed: int, device: str = "cuda:0", **kwargs: Any):
    """Build ``IsaacLabVecEnv(task, ...)``; starts Isaac Sim on first use (lazy import)."""
    from .adapter import make_env as _make

    return _make(task, num_envs, seed, device, **kwargs)


def available() -> str | None:
    """None if IsaacLab looks runnable here, else what is missing and how to get it."""
    from .adapter import missing_isaaclab

    return missing_isaaclab()


for _t in ISAACLAB_TASKS:
    register_task(
        TaskSpec(
            name=f"{SUITE}/{_t.name}",
            factory=functools.partial(make_env, _t.name),
            episode_length=_t.episode_length,
            env_steps=_t.env_steps,
            eval_every=_t.env_steps // 10,
            eval_episodes=EVAL_EPISODES,
            num_envs=NUM_ENVS,
            preset="isaaclab",
            description=(
                f"IsaacLab {_t.name} (step_dt {_t.step_dt:.4g} s, episode {_t.note}; budget = rsl_rl "
                f"{_t.rsl_iterations} iters x {_t.rsl_steps_per_env} steps x {NUM_ENVS} envs; no final obs)"
            ),
            available=available,
        )
    )
del _t
