"""GenPO hyperparameters. Defaults are upstream's Ant settings (wadx2019/genpo@5b6711b,
``source/isaaclab_tasks/.../classic/ant/agents/rsl_rl_ppo_cfg.py``); the PPO loop fields are
``PPOLoopConfig``'s (shared with Gaussian PPO and CPPO), with GenPO's values as defaults here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.blocks.onpolicy import PPOLoopConfig

__all__ = ["GenPOConfig", "TUNED"]


@dataclass(frozen=True)
class GenPOConfig(PPOLoopConfig):
    """GenPO: PPO's loop settings plus the invertible coupled flow on the doubled action."""

    # -- PPO loop, at upstream's Ant values ------------------------------------------------------
    num_steps: int = 32
    """Rollout length per env per iteration (Ant ``num_steps_per_env``)."""
    lr: float = 5e-4
    """Initial Adam learning rate, then rsl_rl's adaptive-KL schedule (Ant: 5e-4, adaptive, KL 0.01)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (Ant: 0)."""
    critic_hidden: tuple[int, ...] = (400, 200, 100)
    """Critic MLP hidden sizes (Ant)."""
    activation: str = "mish"
    """Hidden activation of the critic, the vector field and the time MLP (Ant: mish)."""
    obs_norm: bool = False
    """Running observation normalisation (Ant: ``empirical_normalization = False``)."""
    # -- the flow -------------------------------------------------------------------------------
    flow_steps: int = 5
    """N: coupled update steps of the flow (Ant ``flow_num_steps``)."""
    mix_p: float = 0.95
    """p: mixing weight after each coupled step (``mix_para``); each step scales volume by p^(2A)."""
    actor_hidden: tuple[int, ...] = (400, 200, 100)
    """Vector-field MLP hidden sizes (Ant ``actor_hidden_dims``); input ``[half, obs, time_emb]``."""
    time_dim: int = 32
    """Sinusoidal time-embedding size (and the time MLP's output size)."""
    time_hidden: tuple[int, ...] = (256, 256)
    """Time MLP hidden sizes (Ant ``time_hidden_dims``)."""
    # -- extra loss terms -----------------------------------------------------------------------
    entropy_estimator: Literal["logprob", "importance"] = "logprob"
    """``"logprob"``: -mean log pi(stored doubled action) under the new flow (what upstream's update
    uses); ``"importance"``: importance sampling with an N(0, is_std^2) proposal on the doubled action
    (upstream's ``ActorCriticFlow.entropy``, defined but not called by its update)."""
    is_std: float = 3.0
    """Std of the importance-sampling proposal (Ant ``std=3.0``)."""
    compress_coef: float = 0.01
    """Weight of the compression loss ``mean ||a_left - a_right||`` on fresh samples (Ant: 0.01; upstream
    adds it whatever ``use_compress`` says, that flag is never read)."""

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.mix_p < 1.0:
            raise ValueError("mix_p must be in (0, 1) (p = 1 removes the mixing, p = 0 is not invertible)")
        if self.flow_steps < 1 or self.lr <= 0 or self.is_std <= 0:
            raise ValueError("flow_steps >= 1, lr > 0 and is_std > 0 required")
        if self.time_dim % 2:
            raise ValueError("time_dim must be even")


_PLAYGROUND_LOOP = {  # Gaussian PPO's preset:playground_dmc loop, so the comparison changes only the policy
    "num_steps": 32, "epochs": 5, "minibatches": 4, "gamma": 0.99, "lam": 0.95, "entropy_coef": 0.0,
    "critic_hidden": (256, 256), "reward_scale": 1.0, "obs_norm": True,
}

TUNED: dict[str, dict[str, object]] = {
    "smoke": {"actor_hidden": (32, 32), "critic_hidden": (32, 32), "time_hidden": (32,), "time_dim": 8,
              "num_steps": 8, "epochs": 2, "minibatches": 2, "flow_steps": 2},
    "preset:toy": {"num_steps": 16, "actor_hidden": (64, 64), "critic_hidden": (64, 64), "time_hidden": (64,),
                   "time_dim": 16, "obs_norm": True, "activation": "elu", "lr": 1e-3},
    # Playground DM Control on CPU-sized batches: PPO's loop, a smaller vector field (PPO's actor is 128x128).
    "preset:playground_dmc": {**_PLAYGROUND_LOOP, "actor_hidden": (128, 128), "time_hidden": (64,), "time_dim": 16},
    # IsaacLab: upstream's settings (the defaults above are its Ant config).
    "preset:isaaclab": {},
}
