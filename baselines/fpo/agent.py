"""FPO agent (registered as ``fpo``; FPO++'s settings as ``fpo_plus``).

Reimplements akanazawa/fpo@418c255 (``playground/src/flow_policy/fpo.py``) in torch on the suite's
shared on-policy pieces; FPO++'s ratio and trust region follow amazon-far/fpo-control@8f460e4
(``manipulation_experiments/finetune_online_rl.py``). Deviations: README.md.

One iteration:

1. Rollout: ``a = Euler flow from x1 ~ N(0, I)`` (``flow_steps``, t: 1 -> 0), env action ``tanh(a)``;
   for each action ``n_mc`` pairs ``(eps_i, t_i)`` are drawn and kept with the per-pair CFM losses
   under the acting parameters (the "old" losses) in the transition's extras.
2. GAE with the time-out bootstrap (``harness.onpolicy.RolloutMixin``), then ``epochs x minibatches``
   steps of ``policy_loss(ratio) + value_coef * MSE``, with ``ratio = exp(l_old - l_new)`` averaged
   over the pairs before the exp (FPO) or per pair (FPO++), PPO clipping or ASPO.
3. Observation-normaliser update (last, so the first minibatch sees ratio exactly 1).
"""

from __future__ import annotations

from typing import Any

import torch

from harness.agent import unknown_eval_mode
from .config import TUNED, FPOConfig, FPOPlusConfig
from .losses import cfm_pair_losses, fpo_ratio, mc_times, policy_loss
from .networks import Critic, FlowVelocity
from .shared import (AdaptiveKL, EnvSpec, RolloutBuffer, RolloutMixin, RunningNorm, RunSeeds, register_algorithm,
                     seeded_init, value_loss)

__all__ = ["FPOAgent", "make_fpo", "make_fpo_plus"]


class FPOAgent(RolloutMixin):
    """On-policy flow agent: ``[num_steps, num_envs]`` rollout -> CFM-ratio PPO epochs."""

    def __init__(self, cfg: FPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        S, A, M = spec.obs_dim, spec.action_dim, cfg.n_mc
        with seeded_init(seeds.init):
            self.actor = FlowVelocity(S, A, cfg).to(self.device)
            self.critic = Critic(S, cfg).to(self.device)
        self.obs_norm = RunningNorm(S, device=self.device) if cfg.obs_norm else None
        self.optimizer = torch.optim.Adam([*self.actor.parameters(), *self.critic.parameters()], lr=cfg.lr)
        self.kl_schedule = AdaptiveKL(cfg.lr)  # fixed schedule: only carries the lr through checkpoints
        self.gen = seeds.generator("train", str(self.device))
        self.buffer = RolloutBuffer(
            cfg.num_steps, spec.num_envs, S, A, self.device,
            extras={"raw_actions": (A,), "eps": (M, A), "t": (M, 1), "old_cfm": (M,), "final_valid": ()},
        )
        self.iterations = 0
        self.first_ratio: torch.Tensor | None = None
        """Ratios of the first minibatch of the last update (exactly 1 by construction; for tests)."""

    # -- acting ---------------------------------------------------------------------------------
    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        return self.critic(obs_n)

    def _squash(self, a: torch.Tensor) -> torch.Tensor:
        return torch.tanh(a) if self.cfg.action_squash == "tanh" else a.clamp(-1.0, 1.0)

    def cfm_losses(self, obs_n: torch.Tensor, action: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-pair CFM losses ``[B, M]`` of the current actor at normalised states ``obs_n [B, S]``."""
        s = obs_n.unsqueeze(-2).expand(*eps.shape[:-1], obs_n.shape[-1])
        return cfm_pair_losses(lambda x, tt: self.actor(s, x, tt), action, eps, t, self.cfg.cfm_output)

    eval_protocol = {
        "deterministic": "the flow from zero initial noise x1 = 0 (Euler steps), squashed",
        "stochastic": "the flow from x1 ~ N(0, I), squashed (the behaviour policy)",
        "extra_modes": {},
    }

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """See ``eval_protocol``."""
        if mode not in ("deterministic", "stochastic"):
            raise unknown_eval_mode(self, mode)
        s = self._norm(obs)
        shape = (obs.shape[0], self.spec.action_dim)
        x1 = torch.randn(shape, generator=generator, device=s.device) if mode == "stochastic" else torch.zeros(shape, device=s.device)
        return self._squash(self.actor.sample(s, x1, self.cfg.flow_steps))

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: sample (training generator), draw and score the MC pairs, return extras."""
        cfg, g = self.cfg, self.gen
        s = self._norm(obs)
        shape = (obs.shape[0], self.spec.action_dim)
        x1 = torch.randn(shape, generator=g, device=s.device)
        a = self.actor.sample(s, x1, cfg.flow_steps)
        eps = torch.randn((shape[0], cfg.n_mc, shape[1]), generator=g, device=s.device)
        t = mc_times((shape[0], cfg.n_mc), cfg.flow_steps, cfg.t_sampling, g, s.device)
        old = self.cfm_losses(s, a, eps, t)
        return self._squash(a), {"raw_actions": a, "eps": eps, "t": t, "old_cfm": old}

    # -- learning -------------------------------------------------------------------------------
    def update(self) -> dict[str, float]:
        cfg, b = self.cfg, self.buffer
        values, adv, returns = self._advantages()
        if cfg.adv_norm == "rollout":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        data = {"obs": self._norm(b["obs"]), "raw_actions": b["raw_actions"], "eps": b["eps"], "t": b["t"],
                "old_cfm": b["old_cfm"], "values": values, "adv": adv, "returns": returns}
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        keys = ("policy_loss", "value_loss", "cfm_loss", "ratio_mean", "ratio_max", "ratio_min", "clip_fraction",
                "approx_kl")
        stats: dict[str, torch.Tensor | float] = dict.fromkeys(keys, 0.0)
        n, self.first_ratio = 0, None
        for _ in range(cfg.epochs):
            for mb in b.minibatches(data, cfg.minibatches, self.gen):
                new = self.cfm_losses(mb["obs"], mb["raw_actions"], mb["eps"], mb["t"])
                ratio = fpo_ratio(mb["old_cfm"], new, cfg.ratio, cfg.log_ratio_clip)
                a = mb["adv"]
                if cfg.adv_norm == "minibatch":
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pol = policy_loss(ratio, a, cfg.trust_region, cfg.clip, cfg.spo_clip)
                v_loss = value_loss(self.critic(mb["obs"]), mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
                loss = pol + cfg.value_coef * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    r = ratio.detach()
                    if self.first_ratio is None:
                        self.first_ratio = r
                    log_r = r.log()
                    for key, val in (("policy_loss", pol), ("value_loss", v_loss), ("cfm_loss", new.mean()),
                                     ("ratio_mean", r.mean()), ("ratio_max", r.max()), ("ratio_min", r.min()),
                                     ("clip_fraction", ((r - 1.0).abs() > cfg.clip).float().mean()),
                                     ("approx_kl", ((r - 1.0) - log_r).mean())):
                        stats[key] = stats[key] + val.detach()
                n += 1
        out = {k: float(v) / n for k, v in stats.items()}
        if self.obs_norm is not None:
            self.obs_norm.update(b["obs"])
        out.update(lr=self.optimizer.param_groups[0]["lr"], gradient_steps=float(n),
                   first_ratio_dev=float((self.first_ratio - 1.0).abs().max()),
                   mean_reward=float(b["rewards"].mean()), action_abs_mean=float(b["raw_actions"].abs().mean()))
        b.clear()
        self.iterations += 1
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "optimizer": self.optimizer.state_dict(), **self._rollout_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore networks, optimiser, normaliser, generator and the rollout in progress."""
        for name in ("actor", "critic", "optimizer"):
            getattr(self, name).load_state_dict(state[name])
        self._load_rollout_state(state)


@register_algorithm(name="fpo", config=FPOConfig, on_policy=True, upstream="akanazawa/fpo@418c255", tuned=TUNED)
def make_fpo(cfg: FPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> FPOAgent:
    """Registry factory for FPO (averaged ratio, PPO clipping)."""
    return FPOAgent(cfg, spec, seeds, device)


@register_algorithm(name="fpo_plus", config=FPOPlusConfig, on_policy=True, upstream="amazon-far/fpo-control@8f460e4",
                    tuned=TUNED)
def make_fpo_plus(cfg: FPOPlusConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> FPOAgent:
    """Registry factory for FPO++'s settings (per-sample ratios, ASPO)."""
    return FPOAgent(cfg, spec, seeds, device)
