"""PPO hyperparameters: defaults follow rsl_rl's ``PPO`` and IsaacLab's shared rsl_rl settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from harness.blocks.ppo import BRAX_DMC_LOOP, PPOLoopConfig

__all__ = ["PPOConfig", "TUNED"]


@dataclass(frozen=True)
class PPOConfig(PPOLoopConfig):
    """Gaussian PPO: the loop's settings plus the actor."""

    LEGACY_DEFAULTS: ClassVar[dict[str, object]] = {
        **PPOLoopConfig.LEGACY_DEFAULTS, "policy_dist": "normal", "weight_init": "torch", "obs_norm_update": "after",
    }
    """Fields added after records existed, at their behaviour-preserving values (left out of the hash)."""

    init_std: float = 1.0
    """Initial action std (state-independent parameter, no tanh; unused by "tanh_normal")."""
    actor_hidden: tuple[int, ...] = (256, 128, 128)
    """Actor MLP hidden sizes."""
    policy_dist: Literal["normal", "tanh_normal"] = "normal"
    """"normal": N(mean(s), std) with a state-independent std parameter, actions clipped to [-1, 1]
    (rsl_rl). "tanh_normal": tanh(N(mean(s), softplus(raw(s)) + 0.001)), the actor emitting mean and
    raw scale (Brax's ``NormalTanhDistribution``); PPO's ratio uses the pre-tanh sample (the tanh
    Jacobian cancels), its entropy is Brax's estimate (Gaussian entropy + log|d tanh| at one sample);
    the deterministic action is tanh(mean)."""
    weight_init: Literal["torch", "lecun_uniform"] = "torch"
    """"torch": PyTorch's Linear default, the actor's last layer orthogonal (gain 0.01) and the critic's
    orthogonal (gain 1), zero biases there. "lecun_uniform": every weight U(+-sqrt(3 / fan_in)) and every
    bias 0 (Flax's Dense under Brax's ``make_ppo_networks``)."""
    obs_norm_update: Literal["after", "before"] = "after"
    """When the running observation statistics absorb the rollout: after the PPO epochs (rsl_rl), or
    before them, so the update already normalises with them (Brax without adaptive KL)."""

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
    # Playground DM Control on a CPU-sized batch (64 envs): rsl_rl-style PPO with observation
    # normalisation (reward scale 1, not Brax's 10). Brax's own config is 'preset:brax_dmc' below.
    "preset:playground_dmc": {
        "num_steps": 32, "epochs": 5, "minibatches": 4, "gamma": 0.99, "lam": 0.95, "entropy_coef": 0.0,
        "actor_hidden": (128, 128), "critic_hidden": (256, 256), "reward_scale": 1.0, "lr": 1e-3,
    },
    # MuJoCo Playground's DM Control Brax PPO config (dm_control_suite_params.brax_ppo_config, Brax
    # 0.14.2's trainer and network defaults): 2048 envs x 480 steps = 983,040 env steps and 16 x 32 = 512
    # gradient steps per update; selected with preset = "brax_dmc" (configs/playground_dmc.toml).
    # baselines/ppo/README.md lists what still differs from Brax.
    "preset:brax_dmc": {
        **BRAX_DMC_LOOP, "actor_hidden": (32,) * 4, "policy_dist": "tanh_normal", "weight_init": "lecun_uniform",
        "obs_norm_update": "before",
    },
    # IsaacLab: rsl_rl's shared settings (suites.md section 3.5).
    "preset:isaaclab": {"num_steps": 24, "epochs": 5, "minibatches": 4, "actor_hidden": (512, 256, 128),
                        "critic_hidden": (512, 256, 128), "entropy_coef": 0.005},
    # IsaacLab 3.0 Cartpole: isaaclab_tasks' CartpolePPORunnerCfg (rsl_rl): 16 steps/env, [32, 32] elu
    # actor and critic, no obs normalisation, entropy 0.005, lr 1e-3 adaptive, 5 epochs x 4 minibatches.
    "isaaclab/Cartpole": {"num_steps": 16, "actor_hidden": (32, 32), "critic_hidden": (32, 32), "obs_norm": False},
}
