"""MuJoCo Playground suite (``playground/<Name>``): registration only, no jax import.

Registers

* the 25 DM Control Suite ports (preset ``playground_dmc``; self-contained, run on CPU with
  ``impl="jax"``) with a CPU-sized default budget: 1 M env steps, an evaluation every 100 k env
  steps over 10 episodes, 64 training envs;
* the 19 locomotion (preset ``playground_locomotion``) and 10 manipulation (preset
  ``playground_manipulation``) envs with Playground's upstream Brax-PPO budgets. They need the
  mujoco_menagerie assets: their ``available()`` says so (and how to get them) when the checkout
  is absent, and the factory refuses to start rather than let Playground ``git clone`` it.

Every task's ``available()`` also reports a missing ``jax`` / ``mujoco_playground``. The factory
imports the adapter (and jax) lazily: ``factory(num_envs, seed, device, **kwargs)``, with the
optional keywords ``impl`` (``"jax"`` | ``"warp"``), ``episode_length`` and ``config_overrides``
(see ``suites.playground.adapter.PlaygroundVecEnv``).
"""

from __future__ import annotations

import functools
from typing import Any

from harness.registry import TaskSpec, register_task

from .tasks import DMC_TASKS, LOCOMOTION_TASKS, MANIPULATION_TASKS, UPSTREAM_BUDGETS, PlaygroundTask

__all__ = ["make_env", "available", "DMC_NAMES", "LOCOMOTION_NAMES", "MANIPULATION_NAMES"]

SUITE = "playground"

DMC_NAMES: tuple[str, ...] = tuple(t.name for t in DMC_TASKS)
LOCOMOTION_NAMES: tuple[str, ...] = tuple(t.name for t in LOCOMOTION_TASKS)
MANIPULATION_NAMES: tuple[str, ...] = tuple(t.name for t in MANIPULATION_TASKS)

# CPU-sized defaults of the DM Control ports.
DMC_ENV_STEPS = 1_000_000
DMC_EVAL_EVERY = 100_000
DMC_EVAL_EPISODES = 10
DMC_NUM_ENVS = 64
# GPU tasks: upstream budgets (tasks.UPSTREAM_BUDGETS), ten evaluations per run.
GPU_EVAL_EPISODES = 10


def make_env(name: str, num_envs: int, seed: int, device: str = "cpu", **kwargs: Any):
    """Build ``PlaygroundVecEnv(name, ...)``; imports jax and mujoco_playground on first use."""
    from .adapter import make_env as _make

    return _make(name, num_envs, seed, device, **kwargs)


def available(name: str) -> str | None:
    """None if ``playground/<name>`` can run here, else what is missing and how to get it."""
    from .adapter import missing_dependencies, missing_menagerie
    from .tasks import ALL_TASKS

    msg = missing_dependencies()
    if msg is not None:
        return msg
    task = ALL_TASKS.get(name)
    if task is not None and task.needs_menagerie:
        return missing_menagerie()
    return None


def _register(task: PlaygroundTask, preset: str, env_steps: int, eval_every: int, eval_episodes: int, num_envs: int) -> None:
    dims = f"obs {task.obs_dim}, act {task.action_dim}, " if task.obs_dim is not None else ""
    repeat = f", action_repeat {task.action_repeat}" if task.action_repeat != 1 else ""
    register_task(
        TaskSpec(
            name=f"{SUITE}/{task.name}",
            factory=functools.partial(make_env, task.name),
            episode_length=task.episode_length,
            env_steps=env_steps,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
            num_envs=num_envs,
            preset=preset,
            description=(
                f"MuJoCo Playground {task.group} {task.name} ({dims}ctrl_dt {task.ctrl_dt} s{repeat}"
                + (", needs mujoco_menagerie)" if task.needs_menagerie else ")")
            ),
            available=functools.partial(available, task.name),
        )
    )


for _t in DMC_TASKS:
    _register(_t, "playground_dmc", DMC_ENV_STEPS, DMC_EVAL_EVERY, DMC_EVAL_EPISODES, DMC_NUM_ENVS)
for _t in LOCOMOTION_TASKS + MANIPULATION_TASKS:
    _steps, _envs = UPSTREAM_BUDGETS[_t.name]
    _register(
        _t,
        f"playground_{_t.group}",
        _steps,
        _steps // 10,
        GPU_EVAL_EPISODES,
        _envs,
    )
del _t
