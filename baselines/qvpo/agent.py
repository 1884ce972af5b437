"""QVPO agent (registered as ``qvpo``): Q-weighted variational policy optimisation with a DDPM policy.

Reimplements wadx2019/qvpo@40a1974 run as ``main.py --weighted --aug`` (Ding et al. 2024,
arXiv 2405.16173): a 20-step cosine DDPM policy (eps-prediction, x0 clipped), twin Q critic. One
gradient step (``QVPO.train``):

1. critic: batch of 256 transitions; TD target ``r + gamma (1 - terminated) min Q'(s', a')`` with
   ``a'`` the best of 4 samples of the EMA target policy under the target critic;
2. actor: a second batch of 256 states; 64 samples per state from the current policy, scored by
   min(Q1, Q2) of the (just updated) critic; the best one is kept with weight
   ``w = max(Q_best - mean_k Q_k, 0)``; 10 uniform actions per state join with weight
   ``entropy_alpha * w``; loss = weighted eps-MSE over the ``256 x 11`` pairs;
3. Polyak (tau 0.005) of the target critic and the EMA target policy.

Acting: uniform random actions during warm-up, then the best of 4 policy samples by min-Q.
Deviations from upstream are listed in README.md (time-outs bootstrap; vectorised envs).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch

from harness.agent import Transition, unknown_eval_mode
from harness.buffers import ReplayBuffer
from harness.diffusion import GaussianDiffusion
from harness.env import EnvSpec
from harness.nn import polyak_update, seeded_init
from harness.normalization import RunningNorm
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

from .config import TUNED, QVPOConfig
from .losses import add_uniform_actions, critic_loss, entropy_alpha_at, q_weights, select_best, td_target
from .networks import EpsNet, make_critic

__all__ = ["QVPOAgent", "make_qvpo"]


class QVPOAgent:
    """Off-policy agent over a ``[num_envs x capacity]`` replay buffer on the training device."""

    def __init__(self, cfg: QVPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        S, A, N = spec.obs_dim, spec.action_dim, spec.num_envs
        with seeded_init(seeds.init):
            self.actor = EpsNet(S, A, cfg.n_timesteps, cfg.actor_hidden, cfg.time_dim,
                                activation=cfg.activation).to(self.device)
            self.critic = make_critic(S, A, cfg.critic_hidden, cfg.activation).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.diffusion_lr, eps=cfg.adam_eps)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.adam_eps)
        make = GaussianDiffusion.cosine if cfg.beta_schedule == "cosine" else GaussianDiffusion.vp
        self.diffusion = make(cfg.n_timesteps, self.device)
        d = self.diffusion
        # Per-step scalars of d.p_sample_loop (x0 = c_x x - c_eps eps; posterior mean m_x0 x0 + m_xt x;
        # std exp(log_var / 2)): the same chain and random draws without per-step table lookups.
        self._chain = [
            tuple(float(v[i]) for v in (d.sqrt_recip_ac, d.sqrt_recipm1_ac, d.posterior_mean_coef1,
                                        d.posterior_mean_coef2, torch.exp(0.5 * d.posterior_log_variance)))
            for i in range(d.T)
        ]
        self.obs_norm = RunningNorm(S, device=self.device) if cfg.obs_norm else None
        self.gen = seeds.generator("train", str(self.device))
        self.buffer = ReplayBuffer(N, max(1, math.ceil(cfg.replay_size / N)), S, A, self.device)
        self.per_vector_step = N * spec.action_repeat
        self.eval_modes = tuple(cfg.eval_extra)
        extra = {"best_of_32_by_q": f"upstream's evaluation: best of {cfg.eval_samples} full-noise chain samples by "
                                    "min(Q1, Q2) (a selection by the learned critic, not a mode of the policy)",
                 "single_sample": "one reverse-chain sample from x_T ~ N(0, I) with per-step noise"}
        self.eval_protocol = {
            "deterministic": "one reverse chain from x_T = 0 with no per-step noise",
            "stochastic": f"best of {cfg.behavior_samples} chain samples by min(Q1, Q2) (the behaviour policy "
                          "after warm-up)",
            "extra_modes": {m: extra[m] for m in self.eval_modes},
        }
        self.env_steps = 0
        """Env steps observed (transitions x action repeat), for warm-up and the alpha schedule."""
        self.grad_steps = 0
        self.update_credit = 0.0
        self.entropy_alpha = cfg.entropy_alpha
        self.q_mean, self.q_std = 0.0, 1.0  # running Q statistics (qexpn only)

    # -- sampling ---------------------------------------------------------------------------------
    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def sample_actions(
        self, net: EpsNet, obs_n: torch.Tensor, k: int, generator: torch.Generator | None, noise_ratio: float,
        zero_init: bool = False,
    ) -> torch.Tensor:
        """``k`` policy samples per state in one batched chain: ``obs_n [B, S] -> [B, k, A]`` in [-1, 1].

        DDPM ancestral sampling as ``GaussianDiffusion.p_sample_loop`` (x0 clipped to [-1, 1] at every
        step, no noise at t = 0, final clamp as upstream), one eps-net pass per step for all ``B k`` rows.
        ``zero_init``: x_T = 0 instead of N(0, I).
        """
        B, A = obs_n.shape[0], self.spec.action_dim
        cond = net.cond(obs_n).repeat_interleave(k, dim=0)
        table = net.time_table()
        if zero_init:
            x = torch.zeros((B * k, A), device=self.device)
        else:
            x = torch.randn((B * k, A), generator=generator, device=self.device)
        for i, (c_x, c_eps, m_x0, m_xt, sigma) in reversed(list(enumerate(self._chain))):
            x0 = (c_x * x - c_eps * net.eps_at(x, table[i], cond)).clamp_(-1.0, 1.0)
            x = m_x0 * x0 + m_xt * x
            if i > 0 and noise_ratio > 0:
                x = x + (noise_ratio * sigma) * torch.randn(x.shape, generator=generator, device=self.device)
        return x.clamp(-1.0, 1.0).reshape(B, k, A)

    def best_of(
        self, net: EpsNet, critic: torch.nn.Module, obs_n: torch.Tensor, k: int, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``k`` candidates per state and score them with ``min(Q1, Q2)``.

        Returns ``(best [B, A], q_best [B], candidates [B, k, A], q [B, k])``.
        """
        cand = self.sample_actions(net, obs_n, k, generator, self.cfg.noise_ratio)
        B, _, A = cand.shape
        q = critic.min_q(obs_n.repeat_interleave(k, dim=0), cand.reshape(B * k, A)).reshape(B, k)
        best, q_best = select_best(cand, q)
        return best, q_best, cand, q

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: uniform actions during warm-up, then best of ``behavior_samples`` by Q."""
        if self.env_steps < self.cfg.learning_starts:
            shape = (obs.shape[0], self.spec.action_dim)
            return torch.rand(shape, generator=self.gen, device=self.device) * 2.0 - 1.0, {}
        best, *_ = self.best_of(self.actor, self.critic, self._norm(obs), self.cfg.behavior_samples, self.gen)
        return best, {}

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """See ``eval_protocol``."""
        obs_n = self._norm(obs)
        if mode == "deterministic":
            return self.sample_actions(self.actor, obs_n, 1, None, 0.0, zero_init=True)[:, 0]
        if mode == "stochastic":
            return self.best_of(self.actor, self.critic, obs_n, self.cfg.behavior_samples, generator)[0]
        if mode == "best_of_32_by_q":
            return self.best_of(self.actor, self.critic, obs_n, self.cfg.eval_samples, generator)[0]
        if mode == "single_sample":
            return self.sample_actions(self.actor, obs_n, 1, generator, self.cfg.noise_ratio)[:, 0]
        raise unknown_eval_mode(self, mode)

    # -- data -------------------------------------------------------------------------------------
    def observe(self, t: Transition) -> None:
        next_obs = t.next_obs
        if not t.final_obs_valid and self.cfg.timeout_fallback == "current_obs":
            next_obs = torch.where(t.truncated[:, None], t.obs, next_obs)
        terminated = t.terminated
        if not t.final_obs_valid and self.cfg.timeout_fallback == "terminal":
            terminated = terminated | t.truncated
        self.buffer.add(obs=t.obs, actions=t.action, rewards=t.reward * self.cfg.reward_scale,
                        next_obs=next_obs, terminated=terminated, truncated=t.truncated)
        if self.obs_norm is not None:
            self.obs_norm.update(t.obs)
        self.env_steps += self.per_vector_step
        if self.env_steps >= self.cfg.learning_starts:
            if self.cfg.updates_per_vector_step > 0:
                self.update_credit += self.cfg.updates_per_vector_step
            else:
                self.update_credit += self.cfg.updates_per_env_step * self.spec.num_envs

    def ready(self) -> bool:
        return self.env_steps >= self.cfg.learning_starts and self.update_credit >= 1.0

    # -- learning ---------------------------------------------------------------------------------
    def _clip(self, params: Any) -> None:
        if self.cfg.grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_norm)

    @torch.no_grad()
    def td_targets(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``r + gamma (1 - terminated) min Q'(s', a')``, ``a'`` = best of ``target_samples`` samples of
        the EMA target policy under the target critic (upstream ``actor_target(..., q_func=critic_target)``)."""
        next_obs = self._norm(batch["next_obs"])
        a_next, *_ = self.best_of(self.actor_target, self.critic_target, next_obs, self.cfg.target_samples, self.gen)
        next_q = self.critic_target.min_q(next_obs, a_next)
        return td_target(batch["rewards"], batch["terminated"], next_q, self.cfg.gamma)

    def _critic_step(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = self.buffer.sample(cfg.batch_size, self.gen)
        target = self.td_targets(b)
        q1, q2 = self.critic(self._norm(b["obs"]), b["actions"])
        loss = critic_loss(q1, q2, target)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._clip(self.critic.parameters())
        self.critic_opt.step()
        return {"critic_loss": loss.detach(), "q_data": q1.detach().mean(), "td_target": target.mean()}

    def _actor_step(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        obs = self._norm(self.buffer.sample(cfg.batch_size, self.gen)["obs"])
        with torch.no_grad():
            best, q_best, _, q_all = self.best_of(self.actor, self.critic, obs, cfg.train_samples, self.gen)
            if cfg.q_transform == "qexpn":
                self.q_mean += cfg.q_stats_rate * (float(q_all.mean()) - self.q_mean)
                self.q_std += cfg.q_stats_rate * (float(q_all.std()) - self.q_std)
            w = q_weights(cfg.q_transform, q_best, q_all, q_neg=cfg.q_neg, cut=cfg.cut, beta=cfg.beta,
                          running_mean=self.q_mean, running_std=self.q_std)
            obs_x, act_x, w_x = add_uniform_actions(obs, best, w, cfg.entropy_samples, self.entropy_alpha, self.gen)
        cond, table = self.actor.cond(obs_x), self.actor.time_table()
        loss = self.diffusion.loss(lambda x, t: self.actor.eps(x, t, cond, table), act_x, self.gen, w_x)
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._clip(self.actor.parameters())
        self.actor_opt.step()
        return {"actor_loss": loss.detach(), "weight_mean": w.mean(), "weight_positive": (w > 0).float().mean(),
                "q_best": q_best.mean(), "q_candidates": q_all.mean(), "q_candidates_std": q_all.std(dim=1).mean()}

    def update(self) -> dict[str, float]:
        """All gradient steps due (``floor`` of the accumulated credit), metrics averaged over them."""
        n = int(self.update_credit)
        self.update_credit -= n
        sums: dict[str, torch.Tensor] = {}
        actor_steps = 0
        for _ in range(n):
            m = self._critic_step()
            if self.grad_steps % self.cfg.policy_freq == 0:
                m.update(self._actor_step())
                actor_steps += 1
            polyak_update(self.critic_target, self.critic, self.cfg.tau)
            polyak_update(self.actor_target, self.actor, self.cfg.tau)
            self.grad_steps += 1
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            # Upstream sets entropy_alpha after each update from the env-step count.
            self.entropy_alpha = entropy_alpha_at(self.env_steps, self.cfg.entropy_alpha,
                                                  self.cfg.entropy_alpha_min, self.cfg.schedule_env_steps)
        out = {k: float(v) / (actor_steps if k in _ACTOR_KEYS else n) for k, v in sums.items()
               if actor_steps > 0 or k not in _ACTOR_KEYS}
        out.update(
            gradient_steps=float(n),
            gradient_steps_per_vector_step=float(n),
            sample_reuse=n * self.cfg.batch_size / self.spec.num_envs,
            entropy_alpha=self.entropy_alpha,
            replay_fill=float(len(self.buffer)),
        )
        return out

    # -- checkpointing ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
            "buffer": self.buffer.state_dict(), "gen": self.gen.get_state(),
            "counters": {"env_steps": self.env_steps, "grad_steps": self.grad_steps, "credit": self.update_credit,
                         "entropy_alpha": self.entropy_alpha, "q_mean": self.q_mean, "q_std": self.q_std},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt"):
            getattr(self, name).load_state_dict(state[name])
        if self.obs_norm is not None and state["obs_norm"] is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        self.buffer.load_state_dict(state["buffer"])
        self.gen.set_state(state["gen"].cpu())  # map_location may have moved it to the device
        c = state["counters"]
        self.env_steps, self.grad_steps, self.update_credit = int(c["env_steps"]), int(c["grad_steps"]), float(c["credit"])
        self.entropy_alpha, self.q_mean, self.q_std = float(c["entropy_alpha"]), float(c["q_mean"]), float(c["q_std"])


_ACTOR_KEYS = frozenset({"actor_loss", "weight_mean", "weight_positive", "q_best", "q_candidates", "q_candidates_std"})


@register_algorithm(name="qvpo", config=QVPOConfig, on_policy=False, upstream="wadx2019/qvpo@40a1974", tuned=TUNED)
def make_qvpo(cfg: QVPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> QVPOAgent:
    """Registry factory for QVPO."""
    return QVPOAgent(cfg, spec, seeds, device)
