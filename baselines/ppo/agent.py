"""Gaussian PPO agent (registered as ``ppo``).

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): clipped surrogate, clipped
value loss, adaptive-KL learning rate (per minibatch), state-independent std, GAE, gradient-norm
clipping, running observation normalisation. Time-outs bootstrap from V(final_obs) where the env
provides it (rsl_rl: gamma * V(s_t)), with rsl_rl's approximation as the fallback.
"""

from __future__ import annotations

from typing import Any

import torch

from harness.buffers import RolloutBuffer
from harness.env import EnvSpec
from harness.nn import seeded_init
from harness.normalization import RunningNorm
from harness.onpolicy import RolloutMixin
from harness.optim import AdaptiveKL, diag_gaussian_kl, set_lr
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

from .config import TUNED, PPOConfig
from .losses import clipped_surrogate, gaussian_entropy, gaussian_log_prob, value_loss
from .networks import ActorCritic

__all__ = ["PPOAgent", "make_ppo"]


class PPOAgent(RolloutMixin):
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
    def act(self, obs: torch.Tensor, explore: bool, generator: torch.Generator | None = None):
        mean, std = self.net.dist_params(self._norm(obs))
        if not explore:
            return mean.clamp(-1.0, 1.0), {}
        g = generator if generator is not None else self.gen
        raw = mean + std * torch.randn(mean.shape, generator=g, device=mean.device)
        extras = {"raw_actions": raw, "log_probs": gaussian_log_prob(raw, mean, std), "means": mean, "stds": std}
        return raw.clamp(-1.0, 1.0), extras

    def update(self) -> dict[str, float]:
        cfg, b = self.cfg, self.buffer
        values, adv, returns = self._advantages()
        if cfg.adv_norm == "rollout":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        data = {
            "obs": self._norm(b["obs"]), "raw_actions": b["raw_actions"], "log_probs": b["log_probs"],
            "means": b["means"], "stds": b["stds"], "values": values, "adv": adv, "returns": returns,
        }
        # Statistics stay on the device (one host sync per minibatch, for the adaptive-KL lr only).
        stats = dict.fromkeys(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"), 0.0)
        n = 0
        for _ in range(cfg.epochs):
            for mb in b.minibatches(data, cfg.minibatches, self.gen):
                mean, std = self.net.dist_params(mb["obs"])
                log_prob = gaussian_log_prob(mb["raw_actions"], mean, std)
                with torch.no_grad():
                    kl = diag_gaussian_kl(mb["means"], mb["stds"], mean, std).mean()
                if cfg.schedule == "adaptive":
                    set_lr(self.optimizer, self.kl_schedule.step(kl.item()))
                a = mb["adv"]
                if cfg.adv_norm == "minibatch":
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pol_loss, ratio = clipped_surrogate(log_prob, mb["log_probs"], a, cfg.clip)
                v = self.net.value(mb["obs"])
                v_loss = value_loss(v, mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
                ent = gaussian_entropy(std).mean()
                loss = pol_loss + cfg.value_coef * v_loss - cfg.entropy_coef * ent
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    stats["policy_loss"] += pol_loss.detach()
                    stats["value_loss"] += v_loss.detach()
                    stats["entropy"] += ent.detach()
                    stats["approx_kl"] += kl
                    stats["clip_fraction"] += ((ratio - 1.0).abs() > cfg.clip).float().mean()
                n += 1
        mean_reward = float(b["rewards"].mean())
        if self.obs_norm is not None:
            self.obs_norm.update(b["obs"])
        b.clear()
        self.iterations += 1
        out = {k: float(v) / n for k, v in stats.items()}
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
