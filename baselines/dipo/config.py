"""DIPO hyperparameters.

Defaults are upstream's (BellmanTimeHut/DIPO@c6d8d1b, ``main.py`` argparse defaults and constants);
the per-task table of upstream's README (action-grad-norm ratio, ac_grad_norm, action-gradient
steps, actor-target period) is in ``UPSTREAM_MUJOCO``. Two vectorisation presets choose the
update-to-data fields left at ``None``:

* ``upstream``: one gradient step per collected transition (upstream ``updates_per_step = 1``, so
  ``num_envs`` gradient steps per vector step), batch 256, 10 k env steps of uniform random actions
  first, no observation normalisation.
* ``parallel``: thousands of envs (FastTD3-style, baselines.md section 5.2): batch 8192, 4 gradient
  steps per vector step, the same 10 k warm-up, running observation normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DIPOConfig", "PRESETS", "UPSTREAM_MUJOCO", "TUNED", "resolved"]


@dataclass(frozen=True)
class DIPOConfig:
    num_envs: int = 0
    """Parallel training envs; 0 = the task's default."""
    preset: Literal["upstream", "parallel"] = "upstream"
    """Update-to-data recipe filling the fields left at None (see module docstring)."""
    batch_size: int | None = None
    """Batch of the critic step and of the action-gradient/BC step; None = preset (256 / 8192)."""
    gradient_steps: int | None = None
    """Gradient steps per vector step; None = preset (upstream: num_envs, i.e. one per transition;
    parallel: 4)."""
    warmup_steps: int | None = None
    """Transitions (summed over envs) collected with uniform random actions before the first update
    (upstream ``start_steps``); None = preset (10 000 for both)."""
    obs_norm: bool | None = None
    """Running observation normalisation for every network input; None = preset (off / on)."""
    buffer_size: int = 1_000_000
    """Replay and diffusion-memory capacity in transitions, summed over envs (upstream 1e6)."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Polyak rate of the critic target and of the EMA actor target."""
    diffusion_steps: int = 100
    """DDPM steps T of the cosine schedule (upstream ``n_timesteps`` 100). Every env action and every
    TD target costs T forward passes of the epsilon-net, so the sampler's cost is linear in T."""
    noise_ratio: float = 1.0
    """Scale of the per-step noise of the chain while acting/training (upstream 1.0); deterministic
    evaluation always uses 0."""
    diffusion_lr: float = 3e-4
    """Adam learning rate of the epsilon-net (behaviour cloning)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin critics."""
    adam_eps: float = 1e-5
    """Adam epsilon of all three optimisers (upstream 1e-5)."""
    action_lr: float = 0.03
    """Adam learning rate of the action-gradient steps on stored actions."""
    action_gradient_steps: int = 20
    """Adam steps moving each sampled stored action uphill on min(Q1, Q2)."""
    action_grad_ratio: float = 0.1
    """Gradient-norm bound of the action gradient is ``action_dim * ratio``, on the whole batch tensor
    (upstream ``--ratio``); <= 0 disables the clip."""
    ac_grad_norm: float = 2.0
    """Gradient-norm clip of the critic and of the epsilon-net (upstream ``--ac_grad_norm``); <= 0 off."""
    update_actor_target_every: int = 1
    """EMA actor-target update period in gradient steps."""
    hidden: int = 256
    """Width of the 3 hidden layers of the epsilon-net and of each critic."""
    time_dim: int = 32
    """Sinusoidal time-embedding size (also the output of the time MLP)."""
    activation: str = "mish"
    """Hidden activation (upstream mish)."""
    truncation: Literal["bootstrap", "terminal"] = "bootstrap"
    """'bootstrap': time-outs bootstrap from the final observation (our default); 'terminal':
    upstream's ``mask = 0 if done`` (a time-out ends the bootstrap, as in gym 0.21 TimeLimit)."""
    reward_scale: float = 1.0
    """Multiplier on rewards stored in the replay buffer (upstream 1)."""

    def validate(self) -> None:
        for name in ("diffusion_steps", "action_gradient_steps", "update_actor_target_every", "hidden",
                     "buffer_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("batch_size", "gradient_steps"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 or None (preset), got {v}")
        if self.warmup_steps is not None and self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.time_dim < 2 or self.time_dim % 2:
            raise ValueError("time_dim must be an even number >= 2")
        if not (0.0 < self.gamma <= 1.0 and 0.0 < self.tau <= 1.0):
            raise ValueError("gamma and tau must be in (0, 1]")
        if min(self.diffusion_lr, self.critic_lr, self.action_lr) <= 0:
            raise ValueError("learning rates must be > 0")
        if self.noise_ratio < 0:
            raise ValueError("noise_ratio must be >= 0")


PRESETS: dict[str, dict[str, object]] = {
    "upstream": {"batch_size": 256, "gradient_steps": None, "warmup_steps": 10_000, "obs_norm": False},
    "parallel": {"batch_size": 8192, "gradient_steps": 4, "warmup_steps": 10_000, "obs_norm": True},
}
"""Values of the None fields per preset (``gradient_steps: None`` under 'upstream' = num_envs)."""


@dataclass(frozen=True)
class Resolved:
    """The effective update-to-data settings of a run (after the preset)."""

    batch_size: int
    gradient_steps: int
    warmup_steps: int
    obs_norm: bool

    def sample_reuse(self, num_envs: int) -> float:
        """Times each collected transition is sampled on average: steps x batch / num_envs."""
        return self.gradient_steps * self.batch_size / num_envs


def resolved(cfg: DIPOConfig, num_envs: int) -> Resolved:
    """Fill the None fields of ``cfg`` from its preset for a run with ``num_envs`` envs."""
    p = PRESETS[cfg.preset]

    def pick(name: str):
        v = getattr(cfg, name)
        return p[name] if v is None else v

    steps = pick("gradient_steps")
    return Resolved(
        batch_size=int(pick("batch_size")),
        gradient_steps=int(num_envs if steps is None else steps),
        warmup_steps=int(pick("warmup_steps")),
        obs_norm=bool(pick("obs_norm")),
    )


UPSTREAM_MUJOCO: dict[str, dict[str, object]] = {
    # Upstream README, "Hyper-parameters for MuJoCo (DIPO)" (BellmanTimeHut/DIPO@c6d8d1b).
    "Hopper-v3": {"action_grad_ratio": 0.3, "ac_grad_norm": 1.0, "action_gradient_steps": 20,
                  "update_actor_target_every": 1},
    "Walker2d-v3": {"action_grad_ratio": 0.08, "ac_grad_norm": 2.0, "action_gradient_steps": 20,
                    "update_actor_target_every": 1},
    "Ant-v3": {"action_grad_ratio": 0.1, "ac_grad_norm": 0.8, "action_gradient_steps": 20,
               "update_actor_target_every": 1},
    "HalfCheetah-v3": {"action_grad_ratio": 0.08, "ac_grad_norm": 2.0, "action_gradient_steps": 40,
                       "update_actor_target_every": 2},
    "Humanoid-v3": {"action_grad_ratio": 0.1, "ac_grad_norm": 2.0, "action_gradient_steps": 20,
                    "update_actor_target_every": 1},
}
"""Upstream's per-task gradient settings (gym MuJoCo v3), kept as reference; the entries below map
the closest Playground/DM Control ports onto them."""

TUNED: dict[str, dict[str, object]] = {
    # Minimal cost for the registry smoke test (tests/harness/test_harness_registry_smoke.py) only.
    "smoke": {"warmup_steps": 500, "hidden": 32, "batch_size": 32, "gradient_steps": 1, "diffusion_steps": 5,
              "action_gradient_steps": 5},
    # Toy tasks (2-D actions, 20-50 step episodes): few envs, a short warm-up, a 64-wide net, batch
    # 128, one gradient step per vector step (4 transitions) and T = 20. Upstream sizes are far more
    # than these tasks need and cost ~1 s per gradient step on one CPU core.
    "preset:toy": {"num_envs": 4, "warmup_steps": 1_000, "hidden": 64, "batch_size": 128, "gradient_steps": 1,
                   "diffusion_steps": 20},
    "preset:playground_dmc": {},
    "preset:isaaclab": {"preset": "parallel"},
    # Upstream's README table on the DM Control ports of the same robots.
    "playground/HopperHop": UPSTREAM_MUJOCO["Hopper-v3"],
    "playground/HopperStand": UPSTREAM_MUJOCO["Hopper-v3"],
    "playground/WalkerWalk": UPSTREAM_MUJOCO["Walker2d-v3"],
    "playground/WalkerRun": UPSTREAM_MUJOCO["Walker2d-v3"],
    "playground/WalkerStand": UPSTREAM_MUJOCO["Walker2d-v3"],
    "playground/CheetahRun": UPSTREAM_MUJOCO["HalfCheetah-v3"],
    "playground/HumanoidStand": UPSTREAM_MUJOCO["Humanoid-v3"],
    "playground/HumanoidWalk": UPSTREAM_MUJOCO["Humanoid-v3"],
    "playground/HumanoidRun": UPSTREAM_MUJOCO["Humanoid-v3"],
}
