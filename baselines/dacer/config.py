"""DACER hyperparameters.

Defaults follow happy-yan/DACER-Diffusion-with-Online-RL@848c1f2 (``scripts/train_mujoco.py``,
``relax/algorithm/dacer.py``, ``relax/network/dacer.py``): the ``upstream`` recipe (20 vector envs,
batch 256, one gradient step per vector step). ``RECIPES["parallel"]`` holds the FastTD3-style
overrides for thousands of GPU envs (baselines.md section 5); the tuned table applies a recipe per
preset, and a sweep can apply it to any task as a variant's overrides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["DACERConfig", "RECIPES", "TUNED"]


@dataclass(frozen=True)
class DACERConfig:
    # -- collection and update recipe -----------------------------------------------------------
    num_envs: int = 20
    """Parallel training envs (upstream ``--num_vec_envs 20``); 0 = the task's default."""
    batch_size: int = 256
    """Transitions per gradient step (upstream trainer ``batch_size``)."""
    updates_per_step: int = 1
    """Gradient steps per vector step (upstream: 1 update per vector step of 20 envs)."""
    warmup_steps: int = 30_000
    """Transitions collected with uniform random actions before learning starts (upstream
    ``start_step``: 3e4 for most envs, 2e5 for Humanoid)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions over all envs (upstream 1e6 FIFO); split evenly per env."""
    buffer_per_env: int = 0
    """If > 0, replay capacity per env (FastTD3-style), overriding ``buffer_size``."""
    obs_norm: bool = False
    """Running mean/std observation normalisation (upstream: none; the parallel recipe turns it on)."""

    # -- diffusion actor ------------------------------------------------------------------------
    diffusion_steps: int = 20
    """DDPM steps T of the reverse chain (``--diffusion_steps 20``; T = 30 diverges per the paper)."""
    beta_min: float = 0.1
    """VP schedule b_min."""
    beta_max: float = 10.0
    """VP schedule b_max."""
    actor_hidden: tuple[int, ...] = (256, 256, 256)
    """Epsilon-network MLP hidden sizes (``--diffusion_hidden_dim 256``, 3 layers; 512 for Humanoid)."""
    time_dim: int = 16
    """Width of the scaled sinusoidal time encoding (then Linear(2*time_dim) -> act -> Linear(time_dim))."""
    activation: str = "mish"
    """Hidden activation of actor and critics (the script passes mish to both)."""
    init_alpha: float = 3.0
    """Initial alpha = exp(log_alpha) (upstream ``log(3)``)."""
    noise_scale: float = 0.1
    """Std of the extra action noise per unit alpha: ``a + alpha * noise_scale * N(0, I)`` (upstream code
    0.15 for Humanoid/HalfCheetah, comment: "other envs 0.1")."""

    # -- entropy regulator ----------------------------------------------------------------------
    alpha_lr: float = 3e-2
    """Adam learning rate of log_alpha."""
    delay_alpha_update: int = 10_000
    """Gradient steps between entropy estimates / log_alpha steps (the first happens at step 0)."""
    target_entropy_scale: float = -0.9
    """Target entropy = target_entropy_scale * action_dim."""
    entropy_samples: int = 200
    """Actions sampled per state for the mixture fit (upstream ``num_samples``)."""
    entropy_states: int = 256
    """At most this many batch states enter the entropy estimate (upstream: the whole batch of 256)."""
    gmm_components: int = 3
    """Gaussian-mixture components (full covariance)."""
    gmm_iters: int = 100
    """Maximum EM iterations (scikit-learn's default ``max_iter``)."""

    # -- critic ---------------------------------------------------------------------------------
    critic_hidden: tuple[int, ...] = (256, 256, 256)
    """Each distributional critic's MLP hidden sizes (``--hidden_dim 256``, 3 layers)."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Polyak rate of the target critics (and of the running mean critic std)."""
    lr: float = 1e-4
    """Adam learning rate of actor and critics (no clipping, no schedule)."""
    delay_update: int = 2
    """Actor and target-critic updates every this many gradient steps."""
    reward_scale: float = 0.2
    """Rewards are multiplied by this before the TD target."""
    target_clip: float = 3.0
    """Clip of the standard-normal draw of the sampled target and, times the running mean std, of
    the sampled-target error (DSAC-T)."""
    std_eps: float = 0.1
    """Epsilon of the DSAC-T re-weighting ``(mean_std^2 + eps) / (std^2 + eps)``."""

    def validate(self) -> None:
        for name in ("batch_size", "updates_per_step", "diffusion_steps", "delay_update", "delay_alpha_update",
                     "entropy_samples", "entropy_states", "gmm_components", "gmm_iters", "time_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_envs < 0 or self.warmup_steps < 0 or self.buffer_per_env < 0:
            raise ValueError("num_envs, warmup_steps and buffer_per_env must be >= 0")
        if self.time_dim % 2:
            raise ValueError("time_dim must be even")
        if self.entropy_samples < self.gmm_components:
            raise ValueError("entropy_samples must be >= gmm_components")
        if not (0.0 < self.gamma <= 1.0 and 0.0 < self.tau <= 1.0):
            raise ValueError("gamma must be in (0, 1] and tau in (0, 1]")
        if self.lr <= 0 or self.alpha_lr < 0 or self.init_alpha <= 0 or self.noise_scale < 0:
            raise ValueError("lr, init_alpha must be > 0; alpha_lr, noise_scale >= 0")
        if self.buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")

    @property
    def log_alpha_init(self) -> float:
        return math.log(self.init_alpha)


RECIPES: dict[str, dict[str, Any]] = {
    # DACER as published: 20 envs, batch 256, 1 gradient step per vector step (sample reuse 12.8).
    "upstream": {"num_envs": 20, "batch_size": 256, "updates_per_step": 1, "warmup_steps": 30_000,
                 "buffer_size": 1_000_000, "buffer_per_env": 0, "obs_norm": False},
    # FastTD3-style massively parallel recipe (baselines.md 5.2): task default env count (thousands),
    # a per-env ring buffer of 10240 slots, batch 8192 and 4 gradient steps per vector step
    # (sample reuse 4 * 8192 / N = 8 at N = 4096, 32 at N = 1024), running obs normalisation.
    "parallel": {"num_envs": 0, "batch_size": 8192, "updates_per_step": 4, "warmup_steps": 40_960,
                 "buffer_per_env": 10_240, "obs_norm": True},
}

TUNED: dict[str, dict[str, Any]] = {
    # Minimal cost for the registry smoke test (tests/harness/test_harness_registry_smoke.py) only.
    "smoke": {"warmup_steps": 500, "actor_hidden": (32, 32), "critic_hidden": (32, 32), "updates_per_step": 1,
              "batch_size": 32, "entropy_states": 8, "delay_alpha_update": 50, "diffusion_steps": 5},
    # Toy tasks (50-step episodes, 200k-step budgets): upstream recipe with a short warm-up, smaller
    # networks and a faster entropy regulator so alpha moves within the budget.
    "preset:toy": {**RECIPES["upstream"], "warmup_steps": 2_000, "actor_hidden": (128, 128),
                   "critic_hidden": (128, 128), "delay_alpha_update": 250, "entropy_states": 32,
                   "updates_per_step": 2, "lr": 3e-4},
    # DM Control on Playground: upstream recipe; budgets here are far below 30M steps, so the
    # regulator runs every 1000 steps instead of 10k (on 64 states, to keep it cheap on CPU).
    "preset:playground_dmc": {**RECIPES["upstream"], "warmup_steps": 10_000, "delay_alpha_update": 1_000,
                              "entropy_states": 64},
    "preset:isaaclab": {**RECIPES["parallel"]},
    # Humanoid-class: 512-wide networks (upstream issue #9) and the 0.15 noise scale.
    **{f"playground/Humanoid{k}": {"actor_hidden": (512, 512, 512), "critic_hidden": (512, 512, 512),
                                   "noise_scale": 0.15} for k in ("Stand", "Walk", "Run")},
    "playground/CheetahRun": {"noise_scale": 0.15},
}
