"""FPO hyperparameters. Defaults are upstream's Playground settings (akanazawa/fpo@418c255,
``playground/src/flow_policy/fpo.py``, ``FpoConfig``); the tuned table holds the CPU-sized presets.

The PPO part is ``baselines.ppo.config.PPOLoopConfig`` (the fields Gaussian PPO and CPPO share), with
upstream's values as defaults. FPO++ (amazon-far/fpo-control) is the same agent with
``ratio="per_sample"`` and ``trust_region="aspo"`` (``FPOPlusConfig``, registered as ``fpo_plus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .shared import PPOLoopConfig

__all__ = ["FPOConfig", "FPOPlusConfig", "TUNED", "PLAYGROUND_DMC_UPSTREAM"]


@dataclass(frozen=True)
class FPOConfig(PPOLoopConfig):
    """FPO: PPO's loop settings (upstream values) plus the flow policy and the CFM-ratio switches."""

    # -- PPO part at upstream's values (FpoConfig: Brax PPO's DM Control settings) -------------------
    num_steps: int = 480
    """Rollout length per env per iteration: upstream collects ``32 x 1024 x 30 / 2048 = 480`` steps per
    env, then makes ``minibatches`` slices of ``30 x 1024`` transitions."""
    epochs: int = 16
    """PPO passes over each rollout (upstream ``num_updates_per_batch``)."""
    minibatches: int = 32
    """Minibatches per pass (upstream ``num_minibatches``)."""
    clip: float = 0.05
    """PPO ratio clip epsilon (upstream ``clipping_epsilon``)."""
    gamma: float = 0.995
    """Discount (upstream ``discounting``)."""
    lam: float = 0.95
    """GAE lambda."""
    value_coef: float = 0.25
    """Value-loss weight (upstream ``value_loss_coeff`` on the mean squared error)."""
    entropy_coef: float = 0.0
    """Must stay 0: FPO has no entropy term (a flow's entropy is not available)."""
    lr: float = 3e-4
    """Adam learning rate, fixed, one optimiser for actor and critic (upstream ``learning_rate``)."""
    schedule: Literal["adaptive", "fixed"] = "fixed"
    """Must be "fixed": FPO has no policy KL for rsl_rl's adaptive schedule."""
    max_grad_norm: float = 0.0
    """Global gradient-norm clip; 0 = none (upstream clips nothing)."""
    clipped_value_loss: bool = False
    """Upstream's value loss is plain MSE."""
    critic_hidden: tuple[int, ...] = (256, 256, 256, 256, 256)
    """Critic MLP hidden sizes (upstream 5 x 256)."""
    activation: str = "silu"
    """Hidden activation of actor and critic (upstream silu)."""
    reward_scale: float = 10.0
    """Reward multiplier before GAE (upstream ``reward_scaling``)."""
    adv_norm: Literal["rollout", "minibatch", "none"] = "minibatch"
    """Advantage normalisation per minibatch (upstream ``normalize_advantage`` inside the loss)."""
    # -- the flow policy ------------------------------------------------------------------------------
    actor_hidden: tuple[int, ...] = (32, 32, 32, 32)
    """Velocity net hidden sizes on ``[obs, x_t, emb(t)]`` (upstream 4 x 32)."""
    output_scale: float = 0.25
    """Multiplier on the velocity net's output (upstream ``policy_mlp_output_scale``)."""
    time_emb_dim: int = 8
    """Size of the Fourier time embedding ``[cos(2^k t), sin(2^k t)]`` (upstream ``timestep_embed_dim``)."""
    flow_steps: int = 10
    """Euler steps from t=1 (noise) to t=0 (action) when sampling (upstream ``flow_steps``)."""
    action_squash: Literal["tanh", "clip"] = "tanh"
    """How the flow's sample reaches the env: tanh (upstream) or clipping to [-1, 1]."""
    # -- the FPO ratio --------------------------------------------------------------------------------
    n_mc: int = 8
    """Monte-Carlo pairs ``(eps, t)`` per stored action, drawn at rollout time and kept (upstream
    ``n_samples_per_action``)."""
    cfm_output: Literal["u_but_supervise_as_eps", "u"] = "u_but_supervise_as_eps"
    """CFM loss: the net predicts the velocity ``u = eps - a`` and is supervised on the implied noise
    ``x_t + (1 - t) u`` vs ``eps`` (upstream default), or directly on ``u``."""
    t_sampling: Literal["grid", "uniform"] = "grid"
    """MC times on the sampler's grid ``{1, 0.9, ..., 0.1}`` (upstream ``discretize_t_for_training``) or U[0, 1]."""
    ratio: Literal["averaged", "per_sample"] = "averaged"
    """``exp(mean_i l_old,i - mean_i l_new,i)``: one ratio per action (FPO), or one ratio per MC pair
    (FPO++), each clipped/surrogated separately and averaged."""
    log_ratio_clip: float = 3.0
    """``ratio="per_sample"`` only: clamp each ``l_old,i - l_new,i`` to ``[-c, c]`` before the exp
    (upstream FPO's per-sample branch); 0 = no clamp."""
    trust_region: Literal["ppo", "aspo"] = "ppo"
    """PPO's clipped surrogate for every sample, or ASPO (FPO++): PPO clipping where the advantage is
    positive, SPO's quadratic penalty ``A r - |A| (r - 1)^2 / (2 spo_clip)`` where it is not."""
    spo_clip: float = 0.05
    """SPO's epsilon in ASPO's negative-advantage branch."""

    def validate(self) -> None:
        super().validate()
        for name in ("flow_steps", "n_mc"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.lr <= 0 or self.output_scale <= 0 or self.clip <= 0 or self.spo_clip <= 0:
            raise ValueError("lr, output_scale, clip and spo_clip must be > 0")
        if self.entropy_coef != 0.0:
            raise ValueError("entropy_coef must be 0: FPO has no entropy term")
        if self.schedule != "fixed":
            raise ValueError("schedule must be 'fixed': FPO has no policy KL for the adaptive schedule")
        if self.time_emb_dim < 2 or self.time_emb_dim % 2:
            raise ValueError("time_emb_dim must be even and >= 2")
        if self.log_ratio_clip < 0 or self.max_grad_norm < 0:
            raise ValueError("log_ratio_clip and max_grad_norm must be >= 0")


@dataclass(frozen=True)
class FPOPlusConfig(FPOConfig):
    """FPO++ (arXiv 2602.02481, amazon-far/fpo-control): per-MC-sample ratios and ASPO; evaluation
    with zero initial noise is the suite's deterministic evaluation for every flow policy."""

    ratio: Literal["averaged", "per_sample"] = "per_sample"
    """One ratio per MC pair (FPO++)."""
    trust_region: Literal["ppo", "aspo"] = "aspo"
    """ASPO (FPO++)."""


PLAYGROUND_DMC_UPSTREAM: dict[str, object] = {
    "num_envs": 2048, "num_steps": 480, "epochs": 16, "minibatches": 32, "clip": 0.05, "gamma": 0.995,
    "lam": 0.95, "value_coef": 0.25, "lr": 3e-4, "reward_scale": 10.0, "adv_norm": "minibatch",
    "actor_hidden": (32, 32, 32, 32), "critic_hidden": (256, 256, 256, 256, 256), "n_mc": 8, "flow_steps": 10,
}
"""Upstream's GPU settings (FpoConfig at 2048 envs), written out so the paper-scale spec
(configs/playground_dmc.toml, ``[config.fpo]``) can restore them over the CPU-sized preset; a test
checks that the spec matches this table."""

TUNED: dict[str, dict[str, object]] = {
    # Minimal cost for the registry smoke test only.
    "smoke": {"num_steps": 16, "epochs": 2, "minibatches": 2, "critic_hidden": (32, 32), "n_mc": 4, "flow_steps": 4},
    # Toy tasks (50-step episodes, 32 envs): Gaussian PPO's toy rollout and critic, upstream's flow,
    # ratio, clip and sample reuse (16 epochs) with fewer, larger minibatches.
    "preset:toy": {
        "num_steps": 16, "epochs": 16, "minibatches": 4, "critic_hidden": (64, 64), "gamma": 0.99,
        "reward_scale": 1.0,
    },
    # Playground DM Control, CPU-sized: the structure of upstream's settings (16 epochs, clip 0.05,
    # reward scale 10, gamma 0.995, per-minibatch advantage normalisation, same networks) on a
    # rollout of num_envs x 32 steps with 8 minibatches (upstream: 2048 x 480 in 32 slices).
    "preset:playground_dmc": {"num_steps": 32, "epochs": 16, "minibatches": 8, "critic_hidden": (256, 256)},
    # IsaacLab (rsl_rl-style rollouts; FPO++'s public locomotion settings: fixed lr 1e-4, 4096 envs,
    # per-sample ratios with ASPO live in fpo_plus's defaults; README "IsaacLab preset").
    "preset:isaaclab": {"num_steps": 24, "epochs": 5, "minibatches": 4, "lr": 1e-4, "gamma": 0.99,
                        "reward_scale": 1.0, "actor_hidden": (256, 256, 256), "critic_hidden": (512, 256, 128),
                        "n_mc": 32, "activation": "elu"},
}
