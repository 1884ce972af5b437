"""PPO hyperparameters: defaults follow rsl_rl's ``PPO`` and IsaacLab's shared rsl_rl settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PPOLoopConfig", "PPOConfig", "TUNED"]


@dataclass(frozen=True)
class PPOLoopConfig:
    """What PPO's rollout and update loop (``baselines.ppo.update.PPOUpdateMixin``) reads; shared by
    Gaussian PPO and CPPO (whose conditional PPO step is the same loop), so both use the same names and
    defaults."""

    num_envs: int = 0
    """Parallel training envs; 0 = the task's default."""
    num_steps: int = 24
    """Rollout length per env per iteration (rsl_rl ``num_steps_per_env``)."""
    epochs: int = 5
    """PPO passes over each rollout."""
    minibatches: int = 4
    """PPO minibatches per epoch."""
    clip: float = 0.2
    """PPO ratio clip epsilon (also used for the clipped value loss)."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    value_coef: float = 1.0
    """Value-loss weight."""
    entropy_coef: float = 0.01
    """Entropy-bonus weight (of the trained Gaussian: PPO's policy, CPPO's kernel)."""
    lr: float = 1e-3
    """Initial Adam learning rate (adapted when schedule is 'adaptive')."""
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """rsl_rl's adaptive-KL learning-rate schedule on the exact old/new Gaussian KL, or a fixed rate."""
    desired_kl: float = 0.01
    """Target KL of the adaptive schedule."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    clipped_value_loss: bool = True
    """Clip the value update around the rollout's values (rsl_rl default)."""
    critic_hidden: tuple[int, ...] = (256, 128, 128)
    """Critic MLP hidden sizes."""
    activation: str = "elu"
    """Hidden activation (elu as rsl_rl)."""
    obs_norm: bool = True
    """Running observation normalisation (rsl_rl ``empirical_normalization``; updated at the end of
    ``update`` only)."""
    reward_scale: float = 1.0
    """Multiplier on rewards before GAE (Brax ``reward_scaling``)."""
    adv_norm: Literal["rollout", "minibatch", "none"] = "rollout"
    """Advantage normalisation over the whole rollout (rsl_rl default) or per minibatch (Brax)."""

    def validate(self) -> None:
        for name in ("num_steps", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (0.0 < self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError("gamma must be in (0, 1] and lam in [0, 1]")


@dataclass(frozen=True)
class PPOConfig(PPOLoopConfig):
    """Gaussian PPO: the loop's settings plus the actor."""

    init_std: float = 1.0
    """Initial action std (state-independent parameter, no tanh)."""
    actor_hidden: tuple[int, ...] = (256, 128, 128)
    """Actor MLP hidden sizes."""

    def validate(self) -> None:
        super().validate()
        if self.lr <= 0 or self.init_std <= 0:
            raise ValueError("lr and init_std must be > 0")


TUNED: dict[str, dict[str, object]] = {
    # Toy tasks: short episodes, small nets.
    "preset:toy": {
        "num_steps": 16, "actor_hidden": (64, 64), "critic_hidden": (64, 64), "entropy_coef": 0.0,
        "epochs": 5, "minibatches": 4, "lr": 1e-3,
    },
    # Playground DM Control on a CPU-sized batch (64 envs): rsl_rl-style PPO with Brax's DMC
    # reward scale and observation normalisation. Brax's GPU config (2048 envs, 16 epochs) is
    # available as the 'brax_dmc' overrides in bench/.
    "preset:playground_dmc": {
        "num_steps": 32, "epochs": 5, "minibatches": 4, "gamma": 0.99, "lam": 0.95, "entropy_coef": 0.0,
        "actor_hidden": (128, 128), "critic_hidden": (256, 256), "reward_scale": 1.0, "lr": 1e-3,
    },
    # IsaacLab: rsl_rl's shared settings (suites.md section 3.5).
    "preset:isaaclab": {"num_steps": 24, "epochs": 5, "minibatches": 4, "actor_hidden": (512, 256, 128),
                        "critic_hidden": (512, 256, 128), "entropy_coef": 0.005},
    # IsaacLab 3.0 Cartpole: isaaclab_tasks' CartpolePPORunnerCfg (rsl_rl): 16 steps/env, [32, 32] elu
    # actor and critic, no obs normalisation, entropy 0.005, lr 1e-3 adaptive, 5 epochs x 4 minibatches.
    "isaaclab/Cartpole": {"num_steps": 16, "actor_hidden": (32, 32), "critic_hidden": (32, 32), "obs_norm": False},
}
