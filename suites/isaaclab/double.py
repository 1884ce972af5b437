"""A small torch env that behaves like IsaacLab's ``DirectRLEnv``, to test the adapter without Isaac Sim.

``CartpoleDouble`` copies the parts of ``DirectRLEnv`` (isaaclab 3.0) the adapter relies on:

* ``reset(seed=None, options=None) -> ({"policy": obs}, extras)``;
* ``step(action) -> ({"policy": obs}, reward, terminated, truncated, extras)`` with the same order
  of operations as ``DirectRLEnv.step``: pre-physics step (clamp and scale the action),
  ``decimation`` physics steps, ``episode_length_buf += 1``, dones, rewards, then an internal
  reset of the envs that are done, then observations. So the returned ``obs`` of an env that just
  ended is already its *reset* observation; with ``cfg.compute_final_obs`` (on by default here, as
  ``suites.isaaclab.kitless`` sets it) the pre-reset observations of all envs are computed just
  before that reset and left in ``extras["final_obs"]["policy"]``, refreshed only on steps where
  some env resets (IsaacLab 3.0's ``_reset_envs_from_buffer``);
* the time limit of IsaacLab 3.0's Cartpole and locomotion tasks, ``episode_length_buf >=
  max_episode_length`` (an episode lasts ``max_episode_length`` steps);
* ``seed(seed)`` reseeds the env's randomness (IsaacLab's ``configure_seed``);
* ``reset_terminated`` / ``reset_time_outs`` / ``reward_buf`` are persistent buffers written in
  place every step and returned by reference, as IsaacLab does: a consumer that keeps them
  without copying sees them change under its feet;
* ``unwrapped``, ``num_envs``, ``device``, ``max_episode_length``, ``step_dt``,
  ``single_observation_space["policy"]`` and ``single_action_space`` (objects with ``.shape``).

The dynamics are a cart-pole (the classic Barto-Sutton equations), with IsaacLab Cartpole's
observation ``[pole angle, pole velocity, cart position, cart velocity]``, its termination (cart
beyond 3 m or pole beyond 90 degrees) and an alive/upright reward. All randomness comes from a
``torch.Generator`` seeded with ``seed`` (``cfg.seed`` in IsaacLab).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Box", "CartpoleDouble", "make_double"]


@dataclass(frozen=True)
class Box:
    """Minimal stand-in for ``gymnasium.spaces.Box`` (shape and bounds only)."""

    low: float
    high: float
    shape: tuple[int, ...]


class _Cfg:
    """The attributes of ``DirectRLEnvCfg`` the adapter might read."""

    def __init__(self, seed: int, episode_length_s: float, decimation: int, sim_dt: float, action_scale: float,
                 compute_final_obs: bool):
        self.seed = seed
        self.compute_final_obs = compute_final_obs
        self.episode_length_s = episode_length_s
        self.decimation = decimation
        self.sim_dt = sim_dt
        self.action_scale = action_scale


class CartpoleDouble:
    """A batched cart-pole with the interface and reset semantics of IsaacLab's ``DirectRLEnv``.

    Args:
        num_envs: batch size.
        seed: seed of the env's own ``torch.Generator`` (its only randomness).
        device: torch device of every buffer.
        episode_length_s: episode length in seconds (5 s as ``Isaac-Cartpole-Direct-v0``).
        sim_dt / decimation: physics step and physics steps per agent step (1/120 and 2).
        action_scale: force in N per unit action, as the IsaacLab task's own ``action_scale``.
    """

    obs_dim = 4
    action_dim = 1

    def __init__(
        self,
        num_envs: int,
        seed: int,
        device: str = "cpu",
        *,
        episode_length_s: float = 5.0,
        sim_dt: float = 1 / 120,
        decimation: int = 2,
        action_scale: float = 100.0,
        compute_final_obs: bool = True,
    ) -> None:
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.cfg = _Cfg(int(seed), episode_length_s, decimation, sim_dt, action_scale, compute_final_obs)
        self.step_dt = sim_dt * decimation
        self.max_episode_length = math.ceil(episode_length_s / self.step_dt)
        self.single_observation_space = {"policy": Box(-math.inf, math.inf, (self.obs_dim,))}
        self.single_action_space = Box(-math.inf, math.inf, (self.action_dim,))
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(seed))
        n, dev = self.num_envs, self.device
        self._state = torch.zeros(n, 4, device=dev)  # x, x_dot, theta, theta_dot
        self.episode_length_buf = torch.zeros(n, dtype=torch.long, device=dev)
        self.reset_terminated = torch.zeros(n, dtype=torch.bool, device=dev)
        self.reset_time_outs = torch.zeros(n, dtype=torch.bool, device=dev)
        self.reset_buf = torch.zeros(n, dtype=torch.bool, device=dev)
        self.reward_buf = torch.zeros(n, device=dev)
        self.extras: dict[str, Any] = {}
        self.closed = False
        self._is_closed = False
        self.last_action = torch.zeros(n, self.action_dim, device=dev)
        """The action the physics received at the last step (after the task's own scaling)."""

    @property
    def unwrapped(self) -> "CartpoleDouble":
        """IsaacLab envs come wrapped by ``gym.make``; the double is its own unwrapped env."""
        return self

    # ---- DirectRLEnv hooks ---------------------------------------------------------------------

    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        k = len(env_ids)
        u = torch.rand(k, 4, generator=self._gen, device=self.device) * 2 - 1
        state = torch.zeros(k, 4, device=self.device)
        state[:, 0] = 0.5 * u[:, 0]  # cart position
        state[:, 2] = 0.25 * math.pi * u[:, 1]  # pole angle, as Cartpole's initial_pole_angle_range
        state[:, 1] = 0.1 * u[:, 2]
        state[:, 3] = 0.1 * u[:, 3]
        self._state[env_ids] = state
        self.episode_length_buf[env_ids] = 0

    def _get_observations(self) -> dict[str, torch.Tensor]:
        s = self._state
        return {"policy": torch.stack([s[:, 2], s[:, 3], s[:, 0], s[:, 1]], dim=-1)}

    def _physics_step(self, force: torch.Tensor) -> None:
        g, mc, mp, length, dt = 9.81, 1.0, 0.1, 0.5, self.cfg.sim_dt
        x, x_dot, th, th_dot = self._state.unbind(-1)
        cos, sin = torch.cos(th), torch.sin(th)
        temp = (force + mp * length * th_dot**2 * sin) / (mc + mp)
        th_acc = (g * sin - cos * temp) / (length * (4.0 / 3.0 - mp * cos**2 / (mc + mp)))
        x_acc = temp - mp * length * th_acc * cos / (mc + mp)
        x_dot = x_dot + dt * x_acc
        th_dot = th_dot + dt * th_acc
        self._state = torch.stack([x + dt * x_dot, x_dot, th + dt * th_dot, th_dot], dim=-1)

    # ---- gymnasium API ---------------------------------------------------------------------------

    def seed(self, seed: int) -> int:
        """Restart the env's random stream (IsaacLab: ``configure_seed``); returns the seed."""
        self._gen.manual_seed(int(seed))
        return int(seed)

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Reset every env; returns ``({"policy": obs}, extras)`` like ``DirectRLEnv.reset``."""
        if seed is not None:
            self._gen.manual_seed(int(seed))
        self._reset_idx(torch.arange(self.num_envs, device=self.device))
        return self._get_observations(), self.extras

    def step(self, action: torch.Tensor):
        """One agent step; done envs are reset inside (their returned obs is the reset one)."""
        action = action.to(self.device)
        self.last_action = action.clone() * self.cfg.action_scale
        force = self.last_action[:, 0]
        for _ in range(self.cfg.decimation):
            self._physics_step(force)
        self.episode_length_buf += 1
        x, th = self._state[:, 0], self._state[:, 2]
        self.reset_terminated[:] = (x.abs() > 3.0) | (th.abs() > 0.5 * math.pi)
        self.reset_time_outs[:] = self.episode_length_buf >= self.max_episode_length
        self.reset_buf[:] = self.reset_terminated | self.reset_time_outs
        self.reward_buf[:] = 1.0 - 2.0 * self.reset_terminated.float() - th**2 - 0.01 * x.abs()
        reset_ids = self.reset_buf.nonzero(as_tuple=False).squeeze(-1)
        if len(reset_ids) > 0:
            if self.cfg.compute_final_obs:
                self.extras["final_obs"] = self._get_observations()
            self._reset_idx(reset_ids)
        obs = self._get_observations()
        return obs, self.reward_buf, self.reset_terminated, self.reset_time_outs, self.extras

    def close(self) -> None:
        """Mark the env closed (IsaacLab would tear down its simulation context)."""
        self.closed = True
        self._is_closed = True


def make_double(task: str, num_envs: int, seed: int, device: str = "cpu", **kwargs: Any) -> CartpoleDouble:
    """An ``env_maker`` for ``IsaacLabVecEnv``: ignores ``task`` and returns a ``CartpoleDouble``."""
    return CartpoleDouble(num_envs, seed, device, **kwargs)
