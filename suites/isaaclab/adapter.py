"""IsaacLab (gymnasium API) -> dpbench ``VecEnv`` adapter.

``IsaacLabVecEnv`` wraps an env made by ``gym.make("Isaac-...", cfg=cfg)`` (a ``DirectRLEnv`` or
``ManagerBasedRLEnv``), or anything that behaves like one (``env_maker``; the tests inject
``suites.isaaclab.double.make_double``):

* observations: ``obs["policy"]`` flattened to float32 ``[N, obs_dim]``;
* actions: our [-1, 1] actions times a per-task ``action_scale`` (1.0 by default: the unit box
  is where rsl_rl's Gaussian policy with ``init_noise_std=1`` mostly samples, and IsaacLab tasks
  apply their own physical scaling on top), then clipped to ``[-clip_actions, clip_actions]`` if
  ``clip_actions`` is set (rsl_rl's ``clip_actions``);
* ``terminated`` / ``truncated`` come straight from IsaacLab (``reset_terminated`` /
  ``reset_time_outs``), copied (IsaacLab returns its persistent buffers, rewritten in place each
  step) and made exclusive (``truncated &= ~terminated``);
* auto-reset is IsaacLab's own: the returned ``obs`` of an env that just ended is its reset
  observation and **no final observation exists**, so ``info`` has no ``"final_obs"``. Agents
  fall back to rsl_rl's time-out bootstrap ``r += gamma * V(s_t)`` (value of the last
  pre-terminal observation) on truncation.

The real env needs Isaac Sim: ``make_isaaclab_env`` starts one Kit app per process
(``AppLauncher(headless=True, device=...)``, cached) before importing ``isaaclab_tasks``; where
IsaacLab is missing it raises ``IsaacLabUnavailable`` saying what is needed (see
``suites/isaaclab/README.md``).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from typing import Any, Callable

import torch

from harness.env import EnvSpec

__all__ = [
    "IsaacLabVecEnv",
    "IsaacLabUnavailable",
    "make_isaaclab_env",
    "make_env",
    "missing_isaaclab",
    "REQUIREMENTS",
    "ACTION_SCALES",
]

REQUIREMENTS = (
    "IsaacLab tasks need, in a separate Python 3.11 venv (isaaclab pins numpy<2, which clashes "
    "with the main env): isaaclab 2.3.x and Isaac Sim 5.1 from NVIDIA's package index "
    '(pip install "isaaclab[isaacsim,rsl-rl]==2.3.2.post1" "isaacsim[all,extscache]==5.1.0" '
    "--extra-index-url https://pypi.nvidia.com ; the pypi.org isaacsim is a stub that downloads "
    "from pypi.nvidia.com), an RTX GPU with RT cores (H100/A100/H20 data-center GPUs are "
    "unsupported: Vulkan fails even headless) with a recent driver, and the robot assets: access "
    "to NVIDIA's asset server (S3 asset root) or a local asset cache configured as "
    "persistent/isaac/asset_root/cloud. Then pip install -e . (without the playground extra) "
    "into that venv. See suites/isaaclab/README.md."
)
"""What IsaacLab needs, quoted by ``available()`` and by the factory when it cannot start."""

ACTION_SCALES: dict[str, float] = {}
"""Per-task multiplier from our [-1, 1] actions to IsaacLab's action units; tasks not listed use
1.0 (IsaacLab's own ``action_scale`` of each task applies after it)."""

_DATACENTER_GPUS = ("H100", "H200", "H20", "A100", "A30", "A800", "H800", "B200", "GB200")


class IsaacLabUnavailable(ImportError):
    """IsaacLab / Isaac Sim / a suitable GPU is missing; the message says what is needed."""


def missing_isaaclab() -> str | None:
    """None if IsaacLab looks runnable here, else a message saying what is missing and how to get it.

    Checks (without importing anything heavy): Python 3.11, the ``isaaclab``, ``isaaclab_tasks``
    and ``isaacsim`` packages, a CUDA device, and that it is not a data-center GPU without RT
    cores. Asset access cannot be checked without starting Isaac Sim.
    """
    problems = []
    if sys.version_info[:2] != (3, 11):
        problems.append(f"Python is {sys.version_info.major}.{sys.version_info.minor}, isaaclab needs 3.11")
    missing = [m for m in ("isaaclab", "isaaclab_tasks", "isaacsim") if importlib.util.find_spec(m) is None]
    if missing:
        problems.append(f"{', '.join(missing)} not installed")
    if not torch.cuda.is_available():
        problems.append("no CUDA GPU visible")
    else:
        name = torch.cuda.get_device_name()
        if any(tag in name.upper() for tag in _DATACENTER_GPUS):
            problems.append(f"GPU {name!r} has no RT cores (unsupported by Isaac Sim)")
    if not problems:
        return None
    return f"IsaacLab is not runnable here ({'; '.join(problems)}). {REQUIREMENTS}"


# --------------------------------------------------------------------------------------------
# the real env (Isaac Sim)
# --------------------------------------------------------------------------------------------

_APP: Any = None
_APP_DEVICE: str | None = None
_OPEN_ENV: Any = None


def _ensure_app(device: str):
    """Start the Kit app once per process (``AppLauncher`` must precede any other isaaclab import)."""
    global _APP, _APP_DEVICE
    if _APP is not None:
        if device != _APP_DEVICE:
            raise RuntimeError(
                f"the Isaac Sim app of this process runs on {_APP_DEVICE}, cannot make an env on "
                f"{device}: one Kit app per process"
            )
        return _APP
    from isaaclab.app import AppLauncher

    _APP = AppLauncher(headless=True, device=device).app
    _APP_DEVICE = device
    return _APP


def make_isaaclab_env(task: str, num_envs: int, seed: int, device: str = "cuda:0", **cfg_overrides: Any):
    """``gym.make(task, cfg=cfg)`` with ``cfg = parse_env_cfg(task, device, num_envs)`` and
    ``cfg.seed = seed`` (plus ``cfg_overrides`` set as attributes). Raises ``IsaacLabUnavailable``
    with the requirements where IsaacLab cannot run, and ``RuntimeError`` if another IsaacLab env
    of this process is still open (IsaacLab has one simulation context per process)."""
    global _OPEN_ENV
    msg = missing_isaaclab()
    if msg is not None:
        raise IsaacLabUnavailable(msg)
    if _OPEN_ENV is not None:
        raise RuntimeError(
            "an IsaacLab env is already open in this process; IsaacLab allows one simulation "
            "context per process: close() it first (evaluate on the training env or in another process)"
        )
    _ensure_app(device)
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401  (registers the Isaac-* ids)
    from isaaclab_tasks.utils.parse_cfg import parse_env_cfg

    cfg = parse_env_cfg(task, device=device, num_envs=num_envs)
    cfg.seed = int(seed)
    for k, v in cfg_overrides.items():
        setattr(cfg, k, v)
    env = gym.make(task, cfg=cfg)
    _OPEN_ENV = env
    return env


def _release(env: Any) -> None:
    global _OPEN_ENV
    if env is _OPEN_ENV:
        _OPEN_ENV = None


# --------------------------------------------------------------------------------------------
# the adapter
# --------------------------------------------------------------------------------------------


class IsaacLabVecEnv:
    """An IsaacLab env (or a double) as a dpbench ``VecEnv`` (see module docstring).

    Args:
        task: IsaacLab gym id, e.g. ``"Isaac-Cartpole-Direct-v0"``.
        num_envs: batch size.
        seed: ``cfg.seed`` of the IsaacLab env.
        device: torch device (``"cuda:0"``; the double also runs on ``"cpu"``).
        env_maker: ``(task, num_envs, seed, device) -> env``; default ``make_isaaclab_env``.
        action_scale: multiplier of our [-1, 1] actions; default ``ACTION_SCALES.get(task, 1.0)``.
        clip_actions: if set, clip the scaled actions to ``[-clip_actions, clip_actions]``.
        obs_key: observation group the policy sees (``"policy"``).
    """

    def __init__(
        self,
        task: str,
        num_envs: int,
        seed: int,
        device: str = "cuda:0",
        *,
        env_maker: Callable[..., Any] | None = None,
        action_scale: float | None = None,
        clip_actions: float | None = None,
        obs_key: str = "policy",
    ) -> None:
        maker = env_maker or make_isaaclab_env
        self.task = task
        self._env = maker(task, num_envs=num_envs, seed=seed, device=device)
        u = getattr(self._env, "unwrapped", self._env)
        self._obs_key = obs_key
        obs_shape = tuple(u.single_observation_space[obs_key].shape)
        act_shape = tuple(u.single_action_space.shape)
        self.num_envs = int(u.num_envs)
        if self.num_envs != num_envs:
            raise RuntimeError(f"{task}: asked for {num_envs} envs, the simulator made {self.num_envs}")
        self.device = torch.device(u.device)
        self.action_scale = float(ACTION_SCALES.get(task, 1.0) if action_scale is None else action_scale)
        self.clip_actions = None if clip_actions is None else float(clip_actions)
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
        """Reset every env (IsaacLab ``env.reset()``); return float32 ``[N, obs_dim]``."""
        obs, _ = self._env.reset()
        return self._obs(obs)

    def step(self, action: torch.Tensor):
        """One agent step. ``info`` has no ``"final_obs"``: IsaacLab resets inside ``step`` and
        never exposes the pre-reset observation."""
        obs, reward, terminated, truncated, _extras = self._env.step(self.scale_actions(action))
        terminated = terminated.reshape(self.num_envs).to(torch.bool).clone()
        truncated = truncated.reshape(self.num_envs).to(torch.bool) & ~terminated
        reward = reward.reshape(self.num_envs).to(torch.float32).clone()
        return self._obs(obs), reward, terminated, truncated, {}

    def close(self) -> None:
        """Close the IsaacLab env (the process's Kit app stays up: one per process)."""
        try:
            self._env.close()
        finally:
            _release(self._env)

    def __repr__(self) -> str:
        return f"IsaacLabVecEnv({self.task!r}, num_envs={self.num_envs}, device={self.spec.device!r})"


def make_env(task: str, num_envs: int, seed: int, device: str = "cuda:0", **kwargs: Any) -> IsaacLabVecEnv:
    """Task factory ``(num_envs, seed, device) -> VecEnv`` once ``task`` is bound; keyword
    arguments (``env_maker``, ``action_scale``, ``clip_actions``, ``obs_key``) go to ``IsaacLabVecEnv``."""
    return IsaacLabVecEnv(task, num_envs, seed, device, **kwargs)
