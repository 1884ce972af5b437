"""DACER agent (registered as ``dacer``): Diffusion Actor-Critic with Entropy Regulator.

Wang et al. 2024 (arXiv 2405.15177), reimplemented in torch after
happy-yan/DACER-Diffusion-with-Online-RL@848c1f2 (``relax/algorithm/dacer.py``,
``relax/network/dacer.py``, ``relax/trainer/off_policy.py``). Deviations are listed in README.md.

Per gradient step (upstream order): the TD target uses the current policy (with its alpha noise)
at s' and the target critics; the twin distributional critics take a DSAC-T step; every
``delay_update`` steps the actor takes a step on ``-min(Q1, Q2)`` of actions drawn through the
whole reverse chain (gradients from the pre-update critics) and the target critics are Polyak
averaged; every ``delay_alpha_update`` steps the policy entropy is estimated with a Gaussian
mixture and log_alpha takes one Adam step toward the target entropy.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from harness.agent import Transition, unknown_eval_mode
from harness.buffers import ReplayBuffer
from harness.env import EnvSpec
from harness.nn import polyak_update, seeded_init
from harness.normalization import RunningNorm
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

from .config import TUNED, DACERConfig
from .losses import (
    actor_loss,
    alpha_loss,
    distributional_critic_loss,
    fit_gmm,
    gmm_entropy,
    running_mean_std,
    td_targets,
)
from .networks import DiffusionActor, DistributionalTwinQ

__all__ = ["DACERAgent", "make_dacer"]


class DACERAgent:
    """Off-policy agent: replay ``[num_envs, capacity]``, ``updates_per_step`` gradient steps per vector step."""

    def __init__(self, cfg: DACERConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        obs_dim, act_dim = spec.obs_dim, spec.action_dim
        with seeded_init(seeds.init):
            self.actor = DiffusionActor(obs_dim, act_dim, cfg, self.device).to(self.device)
            self.critic = DistributionalTwinQ(obs_dim, act_dim, cfg).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(cfg.log_alpha_init, device=self.device, requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr)
        self.obs_norm = RunningNorm(obs_dim, device=self.device) if cfg.obs_norm else None
        self.gen = seeds.generator("train", str(self.device))
        self.num_envs = spec.num_envs
        capacity = cfg.buffer_per_env or max(1, cfg.buffer_size // self.num_envs)
        self.buffer = ReplayBuffer(self.num_envs, capacity, obs_dim, act_dim, self.device)
        self.target_entropy = cfg.target_entropy_scale * act_dim
        self.mean_std = torch.full((2,), -1.0, device=self.device)
        """Running mean of each critic's predicted std (-1 = not yet set)."""
        self.entropy = torch.zeros((), device=self.device)
        self.steps = 0
        """Gradient steps taken (the delay counters of upstream's ``step``)."""

    # -- acting ---------------------------------------------------------------------------------
    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    @property
    def warming_up(self) -> bool:
        return len(self.buffer) < max(self.cfg.warmup_steps, 1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: uniform random actions during warm-up, then the chain plus alpha noise."""
        if self.warming_up:
            u = torch.rand((obs.shape[0], self.spec.action_dim), generator=self.gen, device=self.device)
            return u * 2.0 - 1.0, {}
        return self.actor.sample(self._norm(obs), self.alpha, self.gen), {}

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """See ``eval_protocol``."""
        if mode == "deterministic":
            return self.actor.chain(self._norm(obs), None, noiseless=True).clamp(-1.0, 1.0)
        if mode == "stochastic":
            return self.actor.sample(self._norm(obs), self.alpha, generator)
        raise unknown_eval_mode(self, mode)

    eval_protocol = {
        "deterministic": "reverse chain from x_T = 0 with no per-step noise and no alpha noise",
        "stochastic": "reverse chain from x_T ~ N(0, I) with per-step noise, plus alpha * noise_scale Gaussian "
                      "noise (the behaviour policy after warm-up)",
        "extra_modes": {},
    }

    def observe(self, t: Transition) -> None:
        # Time-outs bootstrap from t.next_obs: the true final observation where the env provides
        # it, else the reset observation (FastTD3's fallback); only `terminated` stops the bootstrap.
        self.buffer.add(obs=t.obs, actions=t.action, rewards=t.reward, next_obs=t.next_obs,
                        terminated=t.terminated, truncated=t.truncated)
        if self.obs_norm is not None:
            self.obs_norm.update(t.obs)

    def ready(self) -> bool:
        return not self.warming_up and len(self.buffer) >= self.cfg.batch_size

    # -- learning -------------------------------------------------------------------------------
    @torch.no_grad()
    def estimate_entropy(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean over states of the mixture-entropy estimate of ``entropy_samples`` actions per state
        (drawn with the alpha noise, as upstream)."""
        cfg = self.cfg
        obs = obs[: cfg.entropy_states]
        B, n = obs.shape[0], cfg.entropy_samples
        rep = obs.repeat_interleave(n, 0)
        actions = self.actor.sample(rep, self.alpha, self.gen).reshape(B, n, -1)
        w, _, covs = fit_gmm(actions, cfg.gmm_components, self.gen, max_iter=cfg.gmm_iters)
        return gmm_entropy(w, covs).mean().float()

    def critic_step_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Expected and sampled TD targets of a batch (no gradient)."""
        cfg = self.cfg
        with torch.no_grad():
            next_obs = self._norm(batch["next_obs"])
            next_action = self.actor.sample(next_obs, self.alpha, self.gen)
            next_mean, next_std = self.critic_target(next_obs, next_action)
            z = torch.randn(next_mean.shape, generator=self.gen, device=self.device)
            return td_targets(batch["rewards"] * cfg.reward_scale, batch["terminated"], next_mean, next_std, z,
                              cfg.gamma, cfg.target_clip)

    def _gradient_step(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.buffer.sample(cfg.batch_size, self.gen)
        obs = self._norm(batch["obs"])
        out: dict[str, torch.Tensor] = {}
        if self.steps % cfg.delay_alpha_update == 0:
            self.entropy = self.estimate_entropy(obs)
        backup, backup_sample = self.critic_step_targets(batch)
        mean, std = self.critic(obs, batch["actions"])
        self.mean_std = running_mean_std(self.mean_std, std, cfg.tau)
        c_loss = distributional_critic_loss(mean, std, backup, backup_sample, self.mean_std, cfg.target_clip,
                                            cfg.std_eps)
        self.critic_opt.zero_grad(set_to_none=True)
        c_loss.backward()
        policy_due = self.steps % cfg.delay_update == 0
        if policy_due:
            # Actor gradient through the whole reverse chain, against the pre-update critics.
            action = self.actor.sample(obs, self.alpha, self.gen)
            q_mean, _ = self.critic(obs, action)
            a_loss = actor_loss(q_mean)
            grads = torch.autograd.grad(a_loss, list(self.actor.parameters()))
            for p, gr in zip(self.actor.parameters(), grads):
                p.grad = gr
            out["policy_loss"] = a_loss.detach()
        self.critic_opt.step()
        if policy_due:
            self.actor_opt.step()
            polyak_update(self.critic_target, self.critic, cfg.tau)
        if self.steps % cfg.delay_alpha_update == 0:
            self.alpha_opt.zero_grad(set_to_none=True)
            alpha_loss(self.log_alpha, self.entropy, self.target_entropy).backward()
            self.alpha_opt.step()
        self.steps += 1
        out.update(critic_loss=c_loss.detach(), q_mean=mean.detach().mean(), q_std=std.detach().mean(),
                   td_target=backup.mean())
        return out

    def update(self) -> dict[str, float]:
        cfg = self.cfg
        stats: dict[str, list[torch.Tensor]] = {}
        for _ in range(cfg.updates_per_step):
            for k, v in self._gradient_step().items():
                stats.setdefault(k, []).append(v)
        out = {k: float(torch.stack(v).mean()) for k, v in stats.items()}
        out.update(
            alpha=float(self.alpha), entropy=float(self.entropy), target_entropy=self.target_entropy,
            mean_q_std=float(self.mean_std.mean()),
            gradient_steps=float(cfg.updates_per_step),
            gradient_steps_per_vector_step=float(cfg.updates_per_step),
            sample_reuse=cfg.updates_per_step * cfg.batch_size / self.num_envs,
        )
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            # Deep copies: torch optimisers would otherwise share moment tensors with a loaded copy.
            "actor_opt": copy.deepcopy(self.actor_opt.state_dict()),
            "critic_opt": copy.deepcopy(self.critic_opt.state_dict()),
            "alpha_opt": copy.deepcopy(self.alpha_opt.state_dict()),
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
            "mean_std": self.mean_std.clone(), "entropy": self.entropy.clone(), "steps": self.steps,
            "gen": self.gen.get_state(), "buffer": self.buffer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        if self.obs_norm is not None and state["obs_norm"] is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        self.mean_std = state["mean_std"].to(self.device)
        self.entropy = state["entropy"].to(self.device)
        self.steps = int(state["steps"])
        self.gen.set_state(state["gen"].cpu())  # map_location may have moved it to the device
        self.buffer.load_state_dict(state["buffer"])


@register_algorithm(name="dacer", config=DACERConfig, on_policy=False,
                    upstream="happy-yan/DACER-Diffusion-with-Online-RL@848c1f2", tuned=TUNED)
def make_dacer(cfg: DACERConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> DACERAgent:
    """Registry factory for DACER."""
    return DACERAgent(cfg, spec, seeds, device)
