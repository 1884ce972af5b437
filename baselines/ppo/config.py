"""PPO hyperparameters: defaults follow rsl_rl's ``PPO`` and IsaacLab's shared rsl_rl settings."""

from __future__ import annotations

from dataclasses import dataclass
from harness.blocks.ppo import PPOLoopConfig

__all__ = ["PPOConfig", "TUNED"]


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
}
