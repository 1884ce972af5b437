"""IsaacLab (gymnasium API) -> dpbench ``VecEnv`` adapter.

``IsaacLabVecEnv`` wraps an env made by ``gym.make("Isaac-...", cfg=cfg)`` (IsaacLab 3.0's
``DirectRLEnv`` or ``ManagerBasedRLEnv``; ``suites.isaaclab.kitless`` builds one), or anything
that behaves like one (``env_maker``; the fast tests inject ``suites.isaaclab.double.make_double``):

* observations: ``obs["policy"]`` flattened to float32 ``[N, obs_dim]`` (a ``"critic"`` group,
  where a task has one, is not used);
* actions: our [-1, 1] actions times ``action_scale`` (1.0 by default: IsaacLab tasks apply their
  own physical scaling, e.g. Cartpole's 100 N per unit), then clipped to
  ``[-clip_actions, clip_actions]`` if set (rsl_rl's ``clip_actions``);
* ``terminated`` / ``truncated``: IsaacLab's ``reset_terminated`` / ``reset_time_outs``, copied
  (IsaacLab rewrites those buffers in place every step) and made exclusive
  (``truncated &= ~terminated``);
* ``info["final_obs"]``: the pre-reset observation of the envs that just ended. IsaacLab 3.0
  computes it when ``cfg.compute_final_obs`` is set (``kitless`` sets it) and leaves it in
  ``extras["final_obs"]["policy"]``; that entry is only refreshed on steps where some env
  resets, so the adapter passes it on only on such steps (other rows are unspecified, as the
  VecEnv contract says). Without it (an env that does not compute it) ``info`` has no
  ``"final_obs"`` and agents use their time-out fallback;
* desynchronised starts (``desync=True``, training envs only): after the first ``reset()`` every
  env's ``episode_length_buf`` is set to a random step of its first episode, drawn from a
  generator seeded with ``seed`` (as rsl_rl's ``init_at_random_ep_len``), so time-outs spread out;
* seeding: the env is built with ``cfg.seed = seed % 2**32`` (IsaacLab's ``configure_seed``
  seeds torch's, numpy's, Python's and warp's global generators, which its resets draw from);
  ``reseed(seed)`` re-runs that seeding so the next ``reset()`` starts the states a fresh env
  with ``seed`` would start. The adapter makes one discarded reset at construction and seeds
  again: IsaacLab's first reset after the simulation starts loses its sampled joint velocities.

One env per process: IsaacLab 3.0 keeps one ``SimulationContext`` per process ("Simulation
context already exists"). ``make_env`` therefore builds the first env of a process in it and any
further one, while that is open, in a child process (``suites.isaaclab.remote``): the runner's
evaluation env, which only ever steps ``eval_episodes`` envs, runs there over a pipe, so
evaluation never touches the training env's physics or random state.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from harness.env import EnvSpec

__all__ = ["IsaacLabVecEnv", "make_env", "env_seed", "ACTION_SCALES"]

ACTION_SCALES: dict[str, float] = {}
"""Per-task multiplier from our [-1, 1] actions to IsaacLab's action units; tasks not listed use
1.0 (each IsaacLab task's own ``action_scale`` applies after it)."""


def env_seed(seed: int) -> int:
    """The ``cfg.seed`` IsaacLab gets for a dpbench seed (63-bit stream seeds; numpy takes < 2**32)."""
    return int(seed) % (2**32)


class IsaacLabVecEnv:
    """An IsaacLab env (or a double) as a dpbench ``VecEnv`` (see module docstring).

    Args:
        task: IsaacLab gym id, e.g. ``"Isaac-Cartpole-Direct"``.
        num_envs: batch size.
        seed: run seed of this env (``env_seed(seed)`` becomes ``cfg.seed``; ``desync`` draws from it).
        device: torch / warp device (``"cpu"``, ``"cuda:0"``).
        env_maker: ``(task, num_envs=, seed=, device=) -> env``; default ``kitless.make_isaaclab_env``.
        action_scale: multiplier of our [-1, 1] actions; default ``ACTION_SCALES.get(task, 1.0)``.
        clip_actions: if set, clip the scaled actions to ``[-clip_actions, clip_actions]``.
        obs_key: observation group the policy sees (``"policy"``).
        desync: start every env at a random step of its first episode (training envs; never evaluation).
    """

    def __init__(
        self,
        task: str,
        num_envs: int,
        seed: int,
        device: str = "cpu",
        *,
        env_maker: Callable[..., Any] | None = None,
        action_scale: float | None = None,
        clip_actions: float | None = None,
        obs_key: str = "policy",
        desync: bool = False,
    ) -> None:
        if env_maker is None:
            from .kitless import make_isaaclab_env as env_maker
        self.task = task
        self.seed = int(seed)
        self.desync = bool(desync)
        self._env = env_maker(task, num_envs=num_envs, seed=env_seed(seed), device=device)
        u = getattr(self._env, "unwrapped", self._env)
        self._u = u
        self._obs_key = obs_key
        obs_shape = tuple(u.single_observation_space[obs_key].shape)
        act_shape = tuple(u.single_action_space.shape)
        self.num_envs = int(u.num_envs)
        if self.num_envs != num_envs:
            raise RuntimeError(f"{task}: asked for {num_envs} envs, the simulator made {self.num_envs}")
        self.device = torch.device(u.device)
        self.action_scale = float(ACTION_SCALES.get(task, 1.0) if action_scale is None else action_scale)
        self.clip_actions = None if clip_actions is None else float(clip_actions)
        self.final_obs_available = bool(getattr(getattr(u, "cfg", None), "compute_final_obs", False))
        # IsaacLab 3.0 (Newton) drops the sampled joint velocities of the first reset after the simulation
        # starts (the first observations show zero velocities); from the second reset on, a reset after
        # seeding is a function of the seed alone. One discarded reset, then the seeding again, makes
        # every reset() of this adapter the same as a fresh env's (tests/suites/isaaclab_real).
        self._env.reset()
        self.reseed(self.seed)
        self.spec = EnvSpec(
            obs_dim=int(math.prod(obs_shape)),
            action_dim=int(math.prod(act_shape)),
            num_envs=self.num_envs,
            episode_length=int(u.max_episode_length),
            dt=float(u.step_dt),
            device=str(self.device),
            action_repeat=1,
        )

    def _obs(self, obs: Any) -> torch.Tensor:
        o = obs[self._obs_key] if isinstance(obs, dict) or hasattr(obs, "keys") else obs
        # the env may reuse its buffers: keep our own copy
        return o.reshape(self.num_envs, -1).to(torch.float32).clone()

    def scale_actions(self, action: torch.Tensor) -> torch.Tensor:
        """[-1, 1] actions -> simulator actions: clamp, times ``action_scale``, clip if configured."""
        a = action.to(self.device, torch.float32).clamp(-1.0, 1.0) * self.action_scale
        if self.clip_actions is not None:
            a = a.clamp(-self.clip_actions, self.clip_actions)
        return a

    def reset(self) -> torch.Tensor:
        """Reset every env (IsaacLab ``env.reset()``); on the first reset with ``desync``, spread the
        episode-step counters over the first episode. Returns float32 ``[N, obs_dim]``."""
        obs, _ = self._env.reset()
        if self.desync and not self._reset_done:
            g = torch.Generator(device="cpu")
            g.manual_seed(self.seed)
            start = torch.randint(0, int(self._u.max_episode_length), (self.num_envs,), generator=g)
            self._u.episode_length_buf[:] = start.to(self._u.episode_length_buf.device)
        self._reset_done = True
        return self._obs(obs)

    def set_episode_steps(self, steps: torch.Tensor) -> None:
        """Desynchronised starts (the runner's ``RunSpec.desync``): env ``i`` is ``steps[i]`` steps into its
        current episode (IsaacLab's ``episode_length_buf``, as ``init_at_random_ep_len``)."""
        self._u.episode_length_buf[:] = steps.to(self._u.episode_length_buf.device, self._u.episode_length_buf.dtype)

    def reseed(self, seed: int) -> None:
        """Restart the env's random streams as a fresh env built with ``seed`` (IsaacLab's global
        seeding); the next ``reset()`` gives the same states as that env's first ``reset()``."""
        self.seed = int(seed)
        self._reset_done = False
        seeder = getattr(self._u, "seed", None)
        if callable(seeder):
            seeder(env_seed(seed))

    def step(self, action: torch.Tensor):
        """One agent step: ``(obs, reward, terminated, truncated, info)`` (see module docstring)."""
        obs, reward, terminated, truncated, extras = self._env.step(self.scale_actions(action))
        terminated = terminated.reshape(self.num_envs).to(torch.bool).clone()
        truncated = truncated.reshape(self.num_envs).to(torch.bool) & ~terminated
        reward = reward.reshape(self.num_envs).to(torch.float32).clone()
        info: dict[str, Any] = {}
        if self.final_obs_available and bool((terminated | truncated).any()):
            final = extras.get("final_obs") if isinstance(extras, dict) else None
            if final is None:
                raise RuntimeError(f"{self.task}: cfg.compute_final_obs is set but a reset step has no extras['final_obs']")
            info["final_obs"] = self._obs(final)
        return self._obs(obs), reward, terminated, truncated, info

    def close(self) -> None:
        """Close the IsaacLab env (frees the process's simulation context)."""
        self._env.close()

    def __repr__(self) -> str:
        return f"IsaacLabVecEnv({self.task!r}, num_envs={self.num_envs}, device={self.spec.device!r})"


def make_env(task: str, num_envs: int, seed: int, device: str = "cpu", **kwargs: Any):
    """Task factory ``(num_envs, seed, device) -> VecEnv`` once ``task`` is bound.

    Keyword arguments (``env_maker``, ``action_scale``, ``clip_actions``, ``obs_key``, ``desync``)
    go to ``IsaacLabVecEnv``. With the real simulator (no ``env_maker``), an env asked for while
    another IsaacLab env of this process is open is built in a child process
    (``remote.RemoteVecEnv``): IsaacLab allows one simulation context per process.
    """
    if kwargs.get("env_maker") is None:
        from . import kitless

        if kitless.env_open():
            from .remote import RemoteVecEnv

            return RemoteVecEnv(task, num_envs, seed, device, **kwargs)
    return IsaacLabVecEnv(task, num_envs, seed, device, **kwargs)
