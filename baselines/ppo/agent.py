"""Gaussian PPO agent (registered as ``ppo``).

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): clipped surrogate, clipped
value loss, adaptive-KL learning rate (per minibatch), state-independent std, GAE, gradient-norm
clipping, running observation normalisation. Time-outs bootstrap from V(final_obs) where the env
provides it (rsl_rl: gamma * V(s_t)), with rsl_rl's approximation as the fallback. The preset
``brax_dmc`` switches to Brax's PPO as Playground's DM Control config runs it (tanh-squashed Normal,
fixed lr, no value or gradient clipping, ...); README.md lists what still differs from either.
"""

from __future__ import annotations

import math
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
from harness.blocks.gaussian import gaussian_entropy, gaussian_log_prob
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
        if cfg.grad_clip == "separate":  # one parameter group each, so each is clipped on its own
            critic = list(self.net.critic.parameters())
            groups: list = [{"params": self.net.actor_parameters()}, {"params": critic}]
            self.optimizer = torch.optim.Adam(groups, lr=cfg.lr)
        else:
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
        squash = torch.tanh if self.net.tanh else (lambda x: x.clamp(-1.0, 1.0))
        raw = mean + std * torch.randn(mean.shape, generator=self.gen, device=mean.device)
        # log-prob of the pre-squash sample: the tanh Jacobian cancels in PPO's ratio.
        extras = {"raw_actions": raw, "log_probs": gaussian_log_prob(raw, mean, std), "means": mean, "stds": std}
        return squash(raw), extras

    def _tanh_entropy(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Brax's entropy estimate of tanh(N(mean, std)): the Gaussian's entropy plus log|d tanh/dx| at
        one reparameterised sample per state (``NormalTanhDistribution.entropy``), ``[B, A] -> [B]``."""
        x = mean + std * torch.randn(mean.shape, generator=self.gen, device=mean.device)
        log_det = 2.0 * (math.log(2.0) - x - torch.nn.functional.softplus(-2.0 * x))
        return gaussian_entropy(std) + log_det.sum(-1)

    eval_protocol = {
        "deterministic": "the Gaussian mean (clipped to [-1, 1]; tanh-squashed with policy_dist='tanh_normal')",
        "stochastic": "a Gaussian sample, clipped or tanh-squashed as in training (the behaviour policy)",
        "extra_modes": {},
    }

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """``deterministic``: the Gaussian mean; ``stochastic``: a sample, as in training."""
        mean, std = self.net.dist_params(self._norm(obs))
        squash = torch.tanh if self.net.tanh else (lambda x: x.clamp(-1.0, 1.0))
        if mode == "deterministic":
            return squash(mean)
        if mode == "stochastic":
            return squash(mean + std * torch.randn(mean.shape, generator=generator, device=mean.device))
        raise unknown_eval_mode(self, mode)

    def update(self) -> dict[str, float]:
        b, cfg = self.buffer, self.cfg
        before = self.obs_norm is not None and cfg.obs_norm_update == "before"
        if before:
            self.obs_norm.update(b["obs"])
        out, n, _ = self._ppo_epochs(self._ppo_batch(), lambda mb: self.net.dist_params(mb["obs"]),
                                     lambda mb: self.net.value(mb["obs"]),
                                     entropy=self._tanh_entropy if self.net.tanh else None)
        mean_reward = float(b["rewards"].mean())
        action_std = float(b["stds"].mean()) if self.net.tanh else self.net.log_std.exp().mean().item()
        if self.obs_norm is not None and not before:
            self.obs_norm.update(b["obs"])
        b.clear()
        self.iterations += 1
        out.update(
            lr=self.optimizer.param_groups[0]["lr"], action_std=action_std,
            gradient_steps=float(n), mean_reward=mean_reward,
        )
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), **self._rollout_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore networks, optimiser, normaliser, lr, generator and the rollout in progress."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._load_rollout_state(state)


@register_algorithm(name="ppo", config=PPOConfig, on_policy=True, upstream="leggedrobotics/rsl_rl@c281c32", tuned=TUNED)
def make_ppo(cfg: PPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> PPOAgent:
    """Registry factory for Gaussian PPO."""
    return PPOAgent(cfg, spec, seeds, device)
