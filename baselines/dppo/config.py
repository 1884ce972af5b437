"""DPPO hyperparameters. Defaults are upstream's Gym fine-tuning settings (irom-lab/dppo@7b10df6,
``cfg/gym/finetune/hopper-v2/ft_ppo_diffusion_mlp.yaml``) except ``ft_denoising_steps`` (all steps:
this suite trains from scratch, there is no pre-trained base policy for the other steps)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.blocks.onpolicy import PPOLoopConfig

__all__ = ["DPPOConfig", "TUNED"]


@dataclass(frozen=True)
class DPPOConfig(PPOLoopConfig):
    """DPPO: PPO's loop settings plus the DDPM denoising chain treated as an inner MDP."""

    # -- PPO loop, at upstream's Gym values ------------------------------------------------------
    num_steps: int = 500
    """Rollout length per env per iteration (Gym ``n_steps``; 40 envs there)."""
    epochs: int = 5
    """``update_epochs``."""
    minibatches: int = 4
    """Minibatches per epoch (Gym: 500 x 40 / batch_size 5000)."""
    lr: float = 1e-4
    """Actor (denoiser) learning rate (Gym ``actor_lr``; its cosine schedule has min_lr = lr: constant)."""
    critic_lr: float = 1e-3
    """Critic learning rate (Gym ``critic_lr``, also constant)."""
    schedule: str = "fixed"
    """Fixed learning rates (upstream); ``"adaptive"`` would adapt the actor's on DPPO's approx. KL."""
    value_coef: float = 0.25
    """Weight of the MSE value loss (upstream: ``vf_coef 0.5`` times its ``0.5 * MSE``)."""
    clipped_value_loss: bool = False
    """Upstream's ``clip_vloss_coef`` is unset in the Gym configs: plain MSE."""
    entropy_coef: float = 0.0
    """Unused with DDPM (upstream's entropy term is the constant eta = 1; ``ent_coef`` 0)."""
    max_grad_norm: float = 0.0
    """Gradient-norm clip of the denoiser (Gym: unset = none; 0 = none)."""
    adv_norm: str = "minibatch"
    """Advantages normalised per minibatch (upstream ``norm_adv`` inside the loss)."""
    target_kl: float = 1.0
    """Stop the update when a minibatch's approx. KL exceeds this (Gym: 1); 0 = never."""
    critic_hidden: tuple[int, ...] = (256, 256, 256)
    """Critic MLP hidden sizes (Gym ``CriticObs mlp_dims``, residual there)."""
    activation: str = "mish"
    """Critic activation (Gym: Mish)."""
    obs_norm: bool = True
    """Running observation normalisation (upstream normalises with offline-dataset statistics, which a
    from-scratch run does not have)."""
    # -- the denoising chain --------------------------------------------------------------------
    denoising_steps: int = 20
    """K: DDPM steps (cosine schedule, epsilon prediction)."""
    ft_denoising_steps: int = 20
    """Fine-tuned (trained) last steps of the chain; the first ``K - ft`` use a frozen copy of the
    initial denoiser, as upstream's frozen base policy (Gym: 10 of 20 after pre-training; from scratch
    all K are trained by default)."""
    gamma_denoising: float = 0.99
    """Discount of the denoising MDP: the advantage at chain step j (of ft) is scaled by gamma^(ft-1-j)."""
    clip_ploss_coef: float = 0.01
    """PPO clip at the last denoising step (Gym: 0.01)."""
    clip_ploss_coef_base: float = 0.01
    """PPO clip at the first fine-tuned step; exponential interpolation between (Gym: 0.01)."""
    clip_ploss_coef_rate: float = 3.0
    """Rate of that interpolation."""
    min_sampling_denoising_std: float = 0.1
    """Floor of every denoising step's std when sampling in training (exploration)."""
    min_logprob_denoising_std: float = 0.1
    """Floor of the std in the step log-probabilities (stability)."""
    randn_clip_value: float = 3.0
    """Per-step noise clipped to +-this (Gym: 3)."""
    denoised_clip_value: float = 1.0
    """Predicted x0 clipped to +-this at every step."""
    logprob_min: float = -5.0
    """Per-dimension step log-probs are clamped to [logprob_min, logprob_max] before the ratio (upstream)."""
    logprob_max: float = 2.0
    """Upper clamp of the per-dimension step log-probs."""
    actor_hidden: tuple[int, ...] = (512, 512, 512)
    """Denoiser MLP hidden sizes (Gym ``DiffusionMLP mlp_dims``; residual there)."""
    actor_activation: str = "relu"
    """Denoiser activation (Gym: ReLU)."""
    time_dim: int = 16
    """Time-embedding size (sinusoid -> Linear(2x) -> Mish -> Linear)."""

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.ft_denoising_steps <= self.denoising_steps:
            raise ValueError("need 1 <= ft_denoising_steps <= denoising_steps")
        if self.lr <= 0 or self.critic_lr <= 0:
            raise ValueError("lr and critic_lr must be > 0")
        if self.min_logprob_denoising_std <= 0 or self.min_sampling_denoising_std < 0:
            raise ValueError("min_logprob_denoising_std > 0 and min_sampling_denoising_std >= 0 required")
        if self.schedule not in ("fixed", "adaptive") or self.adv_norm not in ("rollout", "minibatch", "none"):
            raise ValueError("schedule must be 'fixed'/'adaptive'; adv_norm 'rollout'/'minibatch'/'none'")


TUNED: dict[str, dict[str, object]] = {
    "smoke": {"actor_hidden": (32, 32), "critic_hidden": (32, 32), "num_steps": 8, "epochs": 2, "minibatches": 2,
              "denoising_steps": 3, "ft_denoising_steps": 3},
    "preset:toy": {"num_steps": 16, "actor_hidden": (64, 64), "critic_hidden": (64, 64), "denoising_steps": 5,
                   "ft_denoising_steps": 5},
    # Playground DM Control on CPU-sized batches: Gaussian PPO's loop (rollout 32 x envs, 5 x 4),
    # a 10-step chain and a smaller denoiser to fit CPU; DPPO's own losses and learning rates.
    "preset:playground_dmc": {"num_steps": 32, "epochs": 5, "minibatches": 4, "gamma": 0.99, "lam": 0.95,
                              "actor_hidden": (256, 256), "critic_hidden": (256, 256), "denoising_steps": 10,
                              "ft_denoising_steps": 10},
    # IsaacLab: rsl_rl's rollout length (24 x envs) with DPPO's Gym chain and losses.
    "preset:isaaclab": {"num_steps": 24},
}
