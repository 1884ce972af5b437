"""DIPO agent (registered as ``dipo``): diffusion policy trained by action gradient + behaviour cloning.

Reimplements BellmanTimeHut/DIPO@c6d8d1b (``agent/DiPo.py``, ``agent/diffusion.py``, ``main.py``;
Yang et al. 2023, arXiv 2305.13122). Per gradient step:

1. critic: twin-Q MSE to ``r + gamma * mask * min(Q1', Q2')(s', a')`` with ``a'`` from the EMA actor
   target's full chain (noise on), gradient clip ``ac_grad_norm``;
2. action gradient: an independent batch of ``(s, a)`` from the diffusion memory (the replay
   buffer's ``best_actions`` field, a copy of every executed action); ``action_gradient_steps`` Adam
   steps move ``a`` uphill on ``min(Q1, Q2)(s, .)`` (norm clip ``action_dim * ratio`` on the whole
   batch tensor, clamp to [-1, 1]) and the result is written back into the rows it came from;
3. behaviour cloning: DDPM epsilon-MSE of the actor on ``(s, a_improved)``, clip ``ac_grad_norm``;
4. Polyak update of the critic target; EMA of the actor target every ``update_actor_target_every``.

Acting runs the T-step chain (noise_ratio while exploring, 0 for deterministic evaluation);
the first ``warmup_steps`` training transitions use uniform random actions, as upstream.
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

from .config import TUNED, DIPOConfig, resolved
from .losses import action_gradient, critic_loss, td_target
from .networks import DiffusionPolicy, make_critic

__all__ = ["DIPOAgent", "make_dipo"]


class DIPOAgent:
    """Off-policy agent over a ``[num_envs, capacity]`` replay buffer that doubles as diffusion memory."""

    def __init__(self, cfg: DIPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        cfg.validate()
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        self.run = resolved(cfg, spec.num_envs)
        S, A = spec.obs_dim, spec.action_dim
        with seeded_init(seeds.init):
            self.actor = DiffusionPolicy(S, A, cfg.diffusion_steps, cfg.hidden, cfg.time_dim, cfg.activation,
                                         self.device).to(self.device)
            self.critic = make_critic(S, A, cfg.hidden, cfg.activation).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.diffusion_lr, eps=cfg.adam_eps)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.adam_eps)
        self.obs_norm = RunningNorm(S, device=self.device) if self.run.obs_norm else None
        self.gen = seeds.generator("train", str(self.device))
        capacity = max(1, cfg.buffer_size // spec.num_envs)
        self.buffer = ReplayBuffer(spec.num_envs, capacity, S, A, self.device, extras={"best_actions": (A,)})
        self.action_grad_norm = A * cfg.action_grad_ratio
        self.transitions = 0
        self.grad_steps = 0

    # -- acting ---------------------------------------------------------------------------------
    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: uniform random during warm-up, then the chain with ``noise_ratio``."""
        g = self.gen
        if self.transitions < self.run.warmup_steps:
            u = torch.rand((obs.shape[0], self.spec.action_dim), generator=g, device=g.device)
            return (2.0 * u - 1.0).to(self.device), {}
        return self.actor.sample(self._norm(obs), g, self.cfg.noise_ratio), {}

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """See ``eval_protocol``."""
        s = self._norm(obs)
        if mode == "deterministic":
            return self.actor.sample(s, None, 0.0, x_T=torch.zeros(s.shape[0], self.spec.action_dim, device=s.device))
        if mode == "stochastic":
            return self.actor.sample(s, generator, self.cfg.noise_ratio)
        raise unknown_eval_mode(self, mode)

    eval_protocol = {
        "deterministic": "reverse chain from x_T = 0 with no per-step noise",
        "stochastic": "reverse chain from x_T ~ N(0, I) with noise_ratio x the posterior std per step "
                      "(the behaviour policy after warm-up)",
        "extra_modes": {},
    }

    def observe(self, t: Transition) -> None:
        # Without a final observation (final_obs_valid False), next_obs of a time-out is the reset
        # observation and the bootstrap uses it (FastTD3's fallback); terminations never bootstrap.
        self.buffer.add(
            obs=t.obs, actions=t.action, rewards=t.reward * self.cfg.reward_scale, next_obs=t.next_obs,
            terminated=t.terminated, truncated=t.truncated, best_actions=t.action,
        )
        if self.obs_norm is not None:
            self.obs_norm.update(t.obs)
        self.transitions += t.obs.shape[0]

    def ready(self) -> bool:
        return self.transitions >= self.run.warmup_steps

    # -- learning -------------------------------------------------------------------------------
    def critic_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        obs, next_obs = self._norm(batch["obs"]), self._norm(batch["next_obs"])
        with torch.no_grad():
            next_a = self.actor_target.sample(next_obs, self.gen, cfg.noise_ratio)
            next_q = self.critic_target.min_q(next_obs, next_a)
            y = td_target(batch["rewards"], next_q, batch["terminated"], batch["truncated"], cfg.gamma,
                          cfg.truncation)
        q1, q2 = self.critic(obs, batch["actions"])
        loss = critic_loss(q1, q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.ac_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.ac_grad_norm)
        self.critic_opt.step()
        return {"critic_loss": loss.detach(), "q_mean": q1.detach().mean()}

    def improve_actions(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Sample the diffusion memory, run the action gradient, write the result back.
        Returns ``(index, obs, improved_actions, stats)``."""
        cfg = self.cfg
        env, slot = self.buffer.sample_indices(self.run.batch_size, self.gen)
        index = torch.stack([env, slot])
        raw_obs = self.buffer.data["obs"][env, slot]
        obs = self._norm(raw_obs)
        best = self.buffer.data["best_actions"][env, slot]
        improved, stats = action_gradient(
            lambda a: self.critic.min_q(obs, a), best, cfg.action_gradient_steps, cfg.action_lr,
            self.action_grad_norm, cfg.adam_eps,
        )
        self.buffer.write("best_actions", index, improved)
        return index, obs, improved, stats

    def actor_step(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        loss = self.actor.bc_loss(obs, actions, self.gen)
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.ac_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), self.cfg.ac_grad_norm)
        self.actor_opt.step()
        return loss.detach()

    def gradient_step(self) -> dict[str, Any]:
        cfg = self.cfg
        batch = self.buffer.sample(self.run.batch_size, self.gen)
        out: dict[str, Any] = self.critic_step(batch)
        _, obs, improved, stats = self.improve_actions()
        out["bc_loss"] = self.actor_step(obs, improved)
        polyak_update(self.critic_target, self.critic, cfg.tau)
        if self.grad_steps % cfg.update_actor_target_every == 0:
            polyak_update(self.actor_target, self.actor, cfg.tau)
        self.grad_steps += 1
        out.update(stats)
        return out

    def update(self) -> dict[str, float]:
        sums: dict[str, Any] = {}
        n = self.run.gradient_steps
        for _ in range(n):
            for k, v in self.gradient_step().items():
                sums[k] = sums.get(k, 0.0) + v  # tensors stay on device until the end
        out = {k: float(v) / n for k, v in sums.items()}
        N = self.spec.num_envs
        out.update(
            gradient_steps=float(n), gradient_steps_per_vector_step=float(n),
            sample_reuse=self.run.sample_reuse(N), batch_size=float(self.run.batch_size),
            buffer_transitions=float(len(self.buffer)),
        )
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
            "buffer": self.buffer.state_dict(), "gen": self.gen.get_state(),
            "transitions": self.transitions, "grad_steps": self.grad_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.obs_norm is not None and state["obs_norm"] is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        self.buffer.load_state_dict(state["buffer"])
        self.gen.set_state(state["gen"].cpu())  # map_location may have moved it to the device
        self.transitions, self.grad_steps = int(state["transitions"]), int(state["grad_steps"])


@register_algorithm(name="dipo", config=DIPOConfig, on_policy=False, upstream="BellmanTimeHut/DIPO@c6d8d1b",
                    tuned=TUNED)
def make_dipo(cfg: DIPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> DIPOAgent:
    """Registry factory for DIPO."""
    return DIPOAgent(cfg, spec, seeds, device)
