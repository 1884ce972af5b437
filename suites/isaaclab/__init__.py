"""IsaacLab 3.0 suite (``isaaclab/<Name>``): registration only, no isaaclab import.

Eight IsaacLab tasks (``suites.isaaclab.tasks.TASKS``), preset ``isaaclab``, 4096 envs by default,
budgets from isaaclab 3.0's rsl_rl runner configs, ten evaluations per run. They run kitless
(Newton / MuJoCo-Warp, no Isaac Sim) in IsaacLab's own Python 3.12 venv
(``bash scripts/setup_isaaclab.sh``), on the CPU or a CUDA GPU; ``isaaclab/Cartpole`` and
``isaaclab/Ant`` run offline with the assets shipped in ``suites/isaaclab/assets``, the others
refuse with the asset files they miss (``DPBENCH_ISAACLAB_ASSETS`` points at a mirror).

The factory is ``factory(num_envs, seed, device="cpu", **kwargs)`` with the optional
``env_maker``, ``action_scale``, ``clip_actions``, ``obs_key`` and ``desync`` of
``suites.isaaclab.adapter.IsaacLabVecEnv``. From another venv, ``TaskSpec.python`` names the
IsaacLab venv's interpreter that ``dpbench run``/``sweep`` delegate the run to (``venv.py``).
"""

from __future__ import annotations

import functools
from typing import Any

from harness.registry import TaskSpec, register_task

from .tasks import NUM_ENVS, TASKS, IsaacLabTask
from .venv import delegate_python, isaaclab_here, venv_python

__all__ = ["TASKS", "IsaacLabTask", "make_env", "available", "SUITE"]

SUITE = "isaaclab"
EVAL_EPISODES = 10


def make_env(gym_id: str, num_envs: int, seed: int, device: str = "cpu", **kwargs: Any):
    """Build the VecEnv of ``gym_id`` (``suites.isaaclab.adapter.make_env``; imports IsaacLab lazily)."""
    from .adapter import make_env as _make

    return _make(gym_id, num_envs, seed, device, **kwargs)


def available(gym_id: str) -> str | None:
    """None if ``gym_id`` can run (here, or in the IsaacLab venv a run is delegated to), else what is
    missing and how to get it. Where IsaacLab imports, this resolves the task's cfg with the kitless
    preset and checks its asset files (a few seconds the first time); elsewhere it only checks
    that the IsaacLab venv exists (the delegated run checks the rest)."""
    if isaaclab_here():
        from .kitless import IsaacLabUnavailable, resolve_cfg

        try:
            resolve_cfg(gym_id, 1, 0, "cpu")
        except IsaacLabUnavailable as e:
            return str(e)
        return None
    if venv_python() is not None:
        return None
    from .kitless import missing_isaaclab

    return missing_isaaclab()


for _t in TASKS:
    register_task(
        TaskSpec(
            name=f"{SUITE}/{_t.name}",
            factory=functools.partial(make_env, _t.gym_id),
            episode_length=_t.episode_length,
            env_steps=_t.env_steps,
            eval_every=_t.env_steps // 10,
            eval_episodes=EVAL_EPISODES,
            num_envs=NUM_ENVS,
            preset="isaaclab",
            description=(
                f"IsaacLab 3.0 {_t.gym_id}, kitless (Newton/MuJoCo-Warp); step_dt {_t.step_dt:.4g} s, episode "
                f"{_t.note}; budget = rsl_rl {_t.rsl_iterations} iters x {_t.rsl_steps_per_env} steps x {NUM_ENVS} envs"
                + ("" if _t.cpu_assets else "; needs asset files not shipped with dpbench (DPBENCH_ISAACLAB_ASSETS)")
            ),
            available=functools.partial(available, _t.gym_id),
            python=delegate_python,
        )
    )
del _t
