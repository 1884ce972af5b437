"""Gaussian PPO agent (registered as ``ppo``).

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): clipped surrogate, clipped
value loss, adaptive-KL learning rate (per minibatch), state-independent std, GAE, gradient-norm
clipping, running observation normalisation. Time-outs bootstrap from V(final_obs) where the env
provides it (rsl_rl: gamma * V(s_t)), with rsl_rl's approximation as the fallback.
"""

from __future__ import annotations

from typing import Any

import torch

from harness.agent import unknown_eval_mode
from harness.buffers import RolloutBuffer
from harness.env import EnvSpec
from harness.nn import seeded_init
from harness.normalization import RunningNorm
from harness.optim import AdaptiveKL
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

from .config import TUNED, PPOConfig
from harness.blocks.gaussian import gaussian_log_prob
from .networks import ActorCritic
from harness.blocks.ppo import PPOUpdateMixin

__all__ = ["PPOAgent", "make_ppo"]


class PPOAgent(PPOUpdateMixin):
    """On-policy agent: fills a ``[num_steps, num_envs]`` rollout, then runs ``epochs x minibatches``."""

    def __init__(self, cfg: PPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        with seeded_init(seeds.init):
            self.net = ActorCritic(spec.obs_dim, spec.action_dim, cfg).to(self.device)
        self.obs_norm = RunningNorm(spec.obs_dim, device=self.device) if cfg.obs_norm else None
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.kl_schedule = AdaptiveKL(cfg.lr, cfg.desired_kl)
        self.gen = seeds.generator("train", str(self.device))
        self.buffer = RolloutBuffer(
            cfg.num_steps, spec.num_envs, spec.obs_dim, spec.action_dim, self.device,
            extras={"raw_actions": (spec.action_dim,), "log_probs": (), "means": (spec.action_dim,),
                    "stds": (spec.action_dim,), "final_valid": ()},
        )
        self.iterations = 0

    # -- acting ---------------------------------------------------------------------------------
    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        return self.net.value(obs_n)

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: a Gaussian sample (training generator), with what the PPO update needs back."""
        mean, std = self.net.dist_params(self._norm(obs))
        raw = mean + std * torch.randn(mean.shape, generator=self.gen, device=mean.device)
        extras = {"raw_actions": raw, "log_probs": gaussian_log_prob(raw, mean, std), "means": mean, "stds": std}
        return raw.clamp(-1.0, 1.0), extras

    eval_protocol = {
        "deterministic": "the Gaussian mean (clipped to [-1, 1])",
        "stochastic": "a sample of the state-independent-std Gaussian, clipped (the behaviour policy)",
        "extra_modes": {},
    }

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """``deterministic``: the Gaussian mean; ``stochastic``: a sample, as in training."""
        mean, std = self.net.dist_params(self._norm(obs))
        if mode == "deterministic":
            return mean.clamp(-1.0, 1.0)
        if mode == "stochastic":
            return (mean + std * torch.randn(mean.shape, generator=generator, device=mean.device)).clamp(-1.0, 1.0)
        raise unknown_eval_mode(self, mode)

    def update(self) -> dict[str, float]:
        b = self.buffer
        out, n, _ = self._ppo_epochs(self._ppo_batch(), lambda mb: self.net.dist_params(mb["obs"]),
                                     lambda mb: self.net.value(mb["obs"]))
        mean_reward = float(b["rewards"].mean())
        if self.obs_norm is not None:
            self.obs_norm.update(b["obs"])
        b.clear()
        self.iterations += 1
        out.update(
            lr=self.optimizer.param_groups[0]["lr"], action_std=self.net.log_std.exp().mean().item(),
            gradient_steps=float(n), mean_reward=mean_reward,
        )
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), **self._rollout_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore networks, optimiser, normaliser, lr and generator; a partial rollout is discarded."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._load_rollout_state(state)


@register_algorithm(name="ppo", config=PPOConfig, on_policy=True, upstream="leggedrobotics/rsl_rl@c281c32", tuned=TUNED)
def make_ppo(cfg: PPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> PPOAgent:
    """Registry factory for Gaussian PPO."""
    return PPOAgent(cfg, spec, seeds, device)
