"""DPPO agent (registered as ``dppo``): PPO on the denoising chain of a DDPM policy, from scratch.

Reimplements irom-lab/dppo@7b10df6 (``agent/finetune/train_ppo_diffusion_agent.py``,
``model/diffusion/diffusion_ppo.py``, ``model/diffusion/diffusion_vpg.py``); deviations are listed
in README.md. Upstream fine-tunes a behaviour-cloned policy; here the denoiser starts from random
weights (no expert data in this suite).

One iteration:

1. Rollout: ``x_K ~ N(0, I)``, K DDPM steps with the std floored at ``min_sampling_denoising_std``;
   the fine-tuned part of the chain and its per-step, per-dimension Gaussian log-probs travel in
   ``extras``; the env gets the last chain entry clipped to [-1, 1].
2. PPO over (sample, denoising step) pairs: per-step ratio of the clamped, dimension-averaged
   log-probs, advantage discounted by ``gamma_denoising`` per remaining step, per-step clip,
   MSE value loss on a separate critic (own learning rate), early stop at ``target_kl``.
   GAE with time-out bootstrap and the rollout buffer are the shared PPO pieces.
3. Observation-normaliser update (last, so the first minibatch's ratio is 1).
"""

from __future__ import annotations


import torch

from harness.agent import unknown_eval_mode
from harness.blocks.onpolicy import (
    AdaptiveKL, EnvSpec, MinibatchResult, finish_iteration, RolloutBuffer, RolloutMixin, RunningNorm, RunSeeds, normalised_advantages,
    ppo_epochs, register_algorithm, seeded_init, value_loss,
)

from .config import TUNED, DPPOConfig
from .losses import chain_log_prob, denoising_clip_coefs, denoising_discounts, dppo_policy_loss, ratio_log_probs
from .networks import Critic, DenoisingChain

__all__ = ["DPPOAgent", "make_dppo"]


class DPPOAgent(RolloutMixin):
    """On-policy agent: ``[num_steps, num_envs]`` rollout of denoising chains -> PPO on each denoising step."""

    eval_modes = ("dppo_eval",)
    """Upstream's own evaluation sampler (random x_K, std floored at 1e-3, no noise at the last step)."""

    def __init__(self, cfg: DPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        S, A, ft = spec.obs_dim, spec.action_dim, cfg.ft_denoising_steps
        with seeded_init(seeds.init):
            self.chain = DenoisingChain(S, A, cfg, self.device)
            self.critic = Critic(S, cfg).to(self.device)
        self.obs_norm = RunningNorm(S, device=self.device) if cfg.obs_norm else None
        # Group 0: the denoiser (the adaptive schedule, if chosen, acts on it); group 1: the critic.
        self.optimizer = torch.optim.Adam([
            {"params": list(self.chain.actor.parameters()), "lr": cfg.lr},
            {"params": list(self.critic.parameters()), "lr": cfg.critic_lr},
        ])
        self.kl_schedule = AdaptiveKL(cfg.lr, cfg.desired_kl)
        self.gen = seeds.generator("train", str(self.device))
        self.buffer = RolloutBuffer(
            cfg.num_steps, spec.num_envs, S, A, self.device,
            extras={"chain": (ft + 1, A), "log_probs": (ft, A), "final_valid": ()},
        )
        self.clip_coefs = denoising_clip_coefs(ft, cfg.clip_ploss_coef, cfg.clip_ploss_coef_base,
                                               cfg.clip_ploss_coef_rate, self.device)
        self.discounts = denoising_discounts(ft, cfg.gamma_denoising, self.device)
        self.iterations = 0
        self.first_ratio: torch.Tensor | None = None
        """Ratios ``[B, ft]`` of the first PPO minibatch of the last update (1 up to float rounding; for tests)."""

    # -- acting ---------------------------------------------------------------------------------
    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        return self.critic(obs_n)

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def _sample(self, obs: torch.Tensor, mode: str, g: torch.Generator) -> torch.Tensor:
        s = self._norm(obs)
        shape = (obs.shape[0], self.spec.action_dim)
        x_K = torch.zeros(shape, device=self.device) if mode == "deterministic" else torch.randn(shape, generator=g, device=self.device)
        return self.chain.sample(s, x_K, mode, g)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: the training sampler (training generator), returning the chain and its step log-probs."""
        chain = self._sample(obs, "train", self.gen)
        log_probs = self.chain.step_log_probs(self._norm(obs), chain)
        return chain[:, -1].clamp(-1.0, 1.0), {"chain": chain, "log_probs": log_probs}

    eval_protocol = {
        "deterministic": "the denoising chain from x_K = 0 with no per-step noise",
        "stochastic": "the training sampler: chain from x_K ~ N(0, I) with the clipped per-step std (the behaviour policy)",
        "extra_modes": {"dppo_eval": "upstream's evaluation sampler"},
    }

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """``deterministic``, ``stochastic`` (see ``eval_protocol``) and the extra mode ``"dppo_eval"``."""
        if mode == "stochastic":
            return self._sample(obs, "train", generator)[:, -1].clamp(-1.0, 1.0)
        if mode in ("deterministic", *self.eval_modes):
            return self._sample(obs, mode, generator)[:, -1].clamp(-1.0, 1.0)
        raise unknown_eval_mode(self, mode)

    # -- learning -------------------------------------------------------------------------------
    def _minibatch_loss(self, mb: dict[str, torch.Tensor]) -> MinibatchResult:
        cfg, s = self.cfg, mb["obs"]
        new_elem = self.chain.step_log_probs(s, mb["chain"])
        new_lp = ratio_log_probs(new_elem, cfg.logprob_min, cfg.logprob_max)
        old_lp = ratio_log_probs(mb["log_probs"], cfg.logprob_min, cfg.logprob_max)
        adv = mb["adv"]
        if cfg.adv_norm == "minibatch":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pol_loss, ratio, approx_kl = dppo_policy_loss(new_lp, old_lp, adv, self.clip_coefs, self.discounts)
        v_loss = value_loss(self.critic(s), mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
        loss = pol_loss + cfg.value_coef * v_loss
        with torch.no_grad():
            stats = {
                "policy_loss": pol_loss, "value_loss": v_loss,
                "clip_fraction": ((ratio - 1.0).abs() > self.clip_coefs[None, :]).float().mean(),
                "chain_log_prob": chain_log_prob(new_elem).mean(),
            }
        return MinibatchResult(loss, approx_kl, ratio, stats)

    def update(self) -> dict[str, float]:
        cfg, b = self.cfg, self.buffer
        values, adv, returns = normalised_advantages(self, cfg.adv_norm)
        data = {"obs": self._norm(b["obs"]), "chain": b["chain"], "log_probs": b["log_probs"],
                "values": values, "adv": adv, "returns": returns}
        out, n, self.first_ratio = ppo_epochs(self, data, self._minibatch_loss, list(self.chain.actor.parameters()),
                                              target_kl=cfg.target_kl)
        return finish_iteration(self, out, n)

    # -- checkpointing: RolloutMixin.state_dict / load_state_dict over these ----------------------
    checkpointed = ("chain", "critic", "optimizer")


@register_algorithm(name="dppo", config=DPPOConfig, on_policy=True, upstream="irom-lab/dppo@7b10df6", tuned=TUNED)
def make_dppo(cfg: DPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> DPPOAgent:
    """Registry factory for DPPO (from scratch: no behaviour-cloning pre-training)."""
    return DPPOAgent(cfg, spec, seeds, device)
