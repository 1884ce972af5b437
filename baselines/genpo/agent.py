"""GenPO agent (registered as ``genpo``): PPO with the exact likelihood of an invertible flow policy.

Reimplements wadx2019/genpo@5b6711b, ``flow_rsl_rl/`` (``rsl_rl/algorithms/flowppo.py``,
``rsl_rl/modules/actor_critic_flow.py``, ``rsl_rl/modules/reflow/flow.py``,
``rsl_rl/runners/on_policy_flow_runner.py``); deviations are listed in README.md.

One iteration:

1. Rollout: ``x0 ~ N(0, I_2A)``, doubled action ``x = f_s(x0)``, ``log pi(x|s) = log N(x0) - 2 N A log p``;
   the env gets ``(z + y) / 2`` clipped to [-1, 1]; ``x`` and its log-prob travel in ``extras``.
2. PPO (epochs x minibatches): ``log pi_new(x|s)`` through the exact inverse, ratio
   ``exp(logp_new - logp_old)``, clipped surrogate, clipped value loss, entropy term, compression
   loss on fresh samples; rsl_rl's adaptive lr on the sample KL ``mean(logp_old - logp_new)``.
   GAE with time-out bootstrap and the rollout buffer are the shared PPO pieces.
3. Observation-normaliser update (last, so the first minibatch's ratio is exactly 1).
"""

from __future__ import annotations


import torch

from harness.agent import unknown_eval_mode
from harness.blocks.onpolicy import (
    AdaptiveKL, EnvSpec, MinibatchResult, finish_iteration, RolloutBuffer, RolloutMixin, RunningNorm, RunSeeds, clipped_surrogate,
    normalised_advantages, ppo_epochs, register_algorithm, seeded_init, value_loss,
)

from .config import TUNED, GenPOConfig
from .losses import compression_loss, importance_entropy, kl_for_schedule, logprob_entropy
from .networks import CoupledFlow, Critic

__all__ = ["GenPOAgent", "make_genpo"]


class GenPOAgent(RolloutMixin):
    """On-policy agent: ``[num_steps, num_envs]`` rollout of doubled actions -> PPO on their exact likelihood."""

    def __init__(self, cfg: GenPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        S, A = spec.obs_dim, spec.action_dim
        with seeded_init(seeds.init):
            self.flow = CoupledFlow(S, A, cfg).to(self.device)
            self.critic = Critic(S, cfg).to(self.device)
        self.obs_norm = RunningNorm(S, device=self.device) if cfg.obs_norm else None
        # One optimiser over the actor and the critic, as upstream (rsl_rl: Adam over policy.parameters()).
        self.params = [*self.flow.parameters(), *self.critic.parameters()]
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr)
        self.kl_schedule = AdaptiveKL(cfg.lr, cfg.desired_kl)
        self.gen = seeds.generator("train", str(self.device))
        self.buffer = RolloutBuffer(
            cfg.num_steps, spec.num_envs, S, A, self.device,
            extras={"raw_actions": (2 * A,), "log_probs": (), "final_valid": ()},
        )
        self.iterations = 0
        self.first_ratio: torch.Tensor | None = None
        """Ratios of the first PPO minibatch of the last update (exactly 1 by construction; for tests)."""

    # -- acting ---------------------------------------------------------------------------------
    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        return self.critic(obs_n)

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def _x0(self, n: int, stochastic: bool, g: torch.Generator) -> torch.Tensor:
        shape = (n, 2 * self.spec.action_dim)
        return torch.randn(shape, generator=g, device=self.device) if stochastic else torch.zeros(shape, device=self.device)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: sample (training generator) and return the doubled action and its log-prob."""
        x, log_prob = self.flow.sample(self._norm(obs), self._x0(obs.shape[0], True, self.gen))
        return self.flow.env_action(x).clamp(-1.0, 1.0), {"raw_actions": x, "log_probs": log_prob}

    eval_protocol = {
        "deterministic": "the invertible flow from x0 = 0 (doubled action), executed action (z + y) / 2",
        "stochastic": "the flow from x0 ~ N(0, I) (the behaviour policy)",
        "extra_modes": {},
    }

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """See ``eval_protocol``."""
        if mode not in ("deterministic", "stochastic"):
            raise unknown_eval_mode(self, mode)
        x = self.flow(self._norm(obs), self._x0(obs.shape[0], mode == "stochastic", generator))
        return self.flow.env_action(x).clamp(-1.0, 1.0)

    # -- learning -------------------------------------------------------------------------------
    def _minibatch_loss(self, mb: dict[str, torch.Tensor]) -> MinibatchResult:
        cfg, s = self.cfg, mb["obs"]
        log_prob = self.flow.log_prob(s, mb["raw_actions"])
        adv = mb["adv"]
        if cfg.adv_norm == "minibatch":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pol_loss, ratio = clipped_surrogate(log_prob, mb["log_probs"], adv, cfg.clip)
        v_loss = value_loss(self.critic(s), mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
        loss = pol_loss + cfg.value_coef * v_loss
        stats: dict[str, torch.Tensor] = {"policy_loss": pol_loss, "value_loss": v_loss}
        if cfg.entropy_estimator == "importance":
            ent = importance_entropy(lambda x: self.flow.log_prob(s, x), (s.shape[0], 2 * self.spec.action_dim),
                                     cfg.is_std, self.gen, self.device)
        else:
            ent = logprob_entropy(log_prob)
        stats["entropy"] = ent
        if cfg.entropy_coef != 0.0:
            loss = loss - cfg.entropy_coef * ent
        if cfg.compress_coef != 0.0:
            comp = compression_loss(self.flow(s, self._x0(s.shape[0], True, self.gen)), self.spec.action_dim)
            loss = loss + cfg.compress_coef * comp
            stats["compress_loss"] = comp
        with torch.no_grad():
            kl = (mb["log_probs"] - log_prob).mean()
            stats["clip_fraction"] = ((ratio - 1.0).abs() > cfg.clip).float().mean()
        return MinibatchResult(loss, kl, ratio, stats)

    def update(self) -> dict[str, float]:
        cfg, b = self.cfg, self.buffer
        values, adv, returns = normalised_advantages(self, cfg.adv_norm)
        data = {"obs": self._norm(b["obs"]), "raw_actions": b["raw_actions"], "log_probs": b["log_probs"],
                "values": values, "adv": adv, "returns": returns}
        out, n, self.first_ratio = ppo_epochs(self, data, self._minibatch_loss, self.params, kl_for_schedule=kl_for_schedule)
        with torch.no_grad():
            x = b["raw_actions"]
            A = self.spec.action_dim
            half_gap = (x[..., :A] - x[..., A:]).norm(dim=-1).mean()
        return finish_iteration(self, out, n, half_gap=float(half_gap))

    # -- checkpointing: RolloutMixin.state_dict / load_state_dict over these ----------------------
    checkpointed = ("flow", "critic", "optimizer")


@register_algorithm(name="genpo", config=GenPOConfig, on_policy=True, upstream="wadx2019/genpo@5b6711b", tuned=TUNED)
def make_genpo(cfg: GenPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> GenPOAgent:
    """Registry factory for GenPO."""
    return GenPOAgent(cfg, spec, seeds, device)
