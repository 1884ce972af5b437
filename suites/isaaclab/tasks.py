"""The IsaacLab 3.0 tasks dpbench registers, with their static facts (no isaaclab import).

Episode lengths are ``ceil(episode_length_s / (sim.dt * decimation))`` of each task's env cfg in
the isaaclab 3.0.0 wheel; budgets are its rsl_rl runner's ``max_iterations x num_steps_per_env x
4096`` envs. The env itself reports its runtime ``max_episode_length`` in ``spec``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IsaacLabTask", "TASKS", "NUM_ENVS"]

NUM_ENVS = 4096
"""Default training envs (IsaacLab's rsl_rl default)."""


@dataclass(frozen=True)
class IsaacLabTask:
    """One registered task: ``isaaclab/<name>`` -> IsaacLab gym id ``gym_id``."""

    name: str
    """dpbench short name, e.g. ``"Cartpole"`` (registered as ``isaaclab/Cartpole``)."""
    gym_id: str
    """IsaacLab 3.0 gym id (no ``-v0``), e.g. ``"Isaac-Cartpole-Direct"``."""
    episode_length: int
    """``max_episode_length`` in agent steps."""
    step_dt: float
    """``sim.dt * decimation`` in seconds."""
    rsl_iterations: int
    """rsl_rl ``max_iterations`` (isaaclab 3.0.0)."""
    rsl_steps_per_env: int
    """rsl_rl ``num_steps_per_env`` (isaaclab 3.0.0)."""
    cpu_assets: bool
    """True where the files shipped in ``suites/isaaclab/assets`` suffice (runs offline on the CPU)."""
    note: str = ""

    @property
    def env_steps(self) -> int:
        """Default budget: rsl_rl iterations x steps per env x ``NUM_ENVS``."""
        return self.rsl_iterations * self.rsl_steps_per_env * NUM_ENVS


TASKS: tuple[IsaacLabTask, ...] = (
    IsaacLabTask("Cartpole", "Isaac-Cartpole-Direct", 300, 1 / 60, 150, 16, True, "5 s at 1/120 x 2"),
    IsaacLabTask("Ant", "Isaac-Ant-Direct", 960, 1 / 60, 1000, 32, True, "16 s at 1/120 x 2"),
    IsaacLabTask("Humanoid", "Isaac-Humanoid-Direct", 960, 1 / 60, 1000, 32, False, "16 s at 1/120 x 2"),
    IsaacLabTask("AnymalD", "Isaac-Velocity-Rough-AnymalD", 1000, 0.02, 2000, 24, False, "20 s at 0.005 x 4"),
    IsaacLabTask("H1", "Isaac-Velocity-Rough-H1", 1000, 0.02, 2000, 24, False, "20 s at 0.005 x 4"),
    IsaacLabTask("Go2", "Isaac-Velocity-Rough-UnitreeGo2", 1000, 0.02, 1500, 24, False, "20 s at 0.005 x 4"),
    IsaacLabTask("FrankaLift", "Isaac-Lift-Franka", 360, 1 / 30, 15000, 32, False, "12 s at 1/120 x 4"),
    IsaacLabTask("ShadowHand", "Isaac-Reorient-Cube-Shadow-Direct", 600, 1 / 60, 3000, 16, False, "10 s at 1/120 x 2"),
)
