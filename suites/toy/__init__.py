"""Toy suite: torch-native vectorised tasks for multimodality measurements and fast tests."""

from harness.registry import TaskSpec, register_task

from .envs import MultiGoal, Target1D
from .multigoal_sql import SQL_GOAL_NAMES, MultiGoalSQL

register_task(
    TaskSpec(
        name="toy/MultiGoal",
        factory=MultiGoal,
        episode_length=50,
        env_steps=200_000,
        eval_every=20_000,
        eval_episodes=64,
        num_envs=32,
        preset="toy",
        description="2-D point mass, 4 equally good goals on the axes at distance 1 (multimodality).",
        outcomes=("east", "north", "west", "south"),
    )
)
register_task(
    TaskSpec(
        name="toy/MultiGoalSQL",
        factory=MultiGoalSQL,
        episode_length=30,
        env_steps=100_000,
        eval_every=20_000,
        eval_episodes=64,
        num_envs=32,
        preset="toy",
        description="Haarnoja et al. 2017 MultiGoalEnv: 2-D point mass, velocity actions, 4 goals at distance 5, "
        "quadratic action and squared-distance costs, +10 and termination within 1 of a goal, 30 steps.",
        outcomes=SQL_GOAL_NAMES,
    )
)
register_task(
    TaskSpec(
        name="toy/Target1D",
        factory=Target1D,
        episode_length=20,
        env_steps=20_000,
        eval_every=5_000,
        eval_episodes=16,
        num_envs=16,
        preset="toy",
        description="1-D point to x=0.5; learns in seconds (smoke tests).",
    )
)
