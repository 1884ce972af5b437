"""CPPO agent (registered as ``cppo``): a flow-matching policy improved by conditional PPO on a Gaussian kernel.

Method: Liu, Yang, Chen, "Diffusion Policy through Conditional Proximal Policy Optimization",
arXiv 2603.04790v1 (no public code). What the paper states and what we reconstructed is kept apart
in ``README.md``; every reconstructed choice is a ``CPPOConfig`` field.

One iteration:

1. Rollout: ``a0 = Euler flow of the EMA reference from x0 ~ N(0, I)`` (``flow_steps``), then
   ``a ~ N(mu_theta(s, a0), sigma_theta^2)``, ``mu = (1 - h) a0 + g_theta(s, a0)``; ``a0`` and the old
   kernel's mean/std/log-prob travel in the transition's ``extras``.
2. Conditional PPO on the kernel only (ratio of kernel densities at the stored a0), with the kernel's
   Gaussian entropy and the score regulariser; adaptive-KL learning rate on the exact kernel KL.
   The PPO part is Gaussian PPO's update loop (``harness.blocks.ppo.PPOUpdateMixin``: rollout
   bookkeeping, GAE with time-out bootstrap from V(final_obs) or rsl_rl's V(s_t) fallback, adaptive KL,
   clipped surrogate and value loss).
3. Flow-matching distillation of the improved policy into the online flow, on the rollout's states and
   stored a0: of the kernel's new mean ``mu_new(s, a0)`` (default ``distill_targets="new_mean"``) or of
   samples of ``pi_new = kernel_new * pi_ref`` (``"new_kernel"``, cppo.md); fitting error (sliced
   Wasserstein against ``kernel_new * pi_ref``) on held-out states.
4. EMA update of the reference flow; kernel mean head reset (the learned std persists by default,
   ``kernel_reset="mean"``; ``"delta"`` re-syncs g's frozen copy instead, so g's offset is zero again
   without zeroing weights); observation-normaliser update (last, so the first PPO minibatch sees ratio 1).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from harness.agent import unknown_eval_mode
from harness.buffers import RolloutBuffer
from harness.env import EnvSpec
from harness.nn import polyak_update, seeded_init
from harness.normalization import RunningNorm
from harness.optim import AdaptiveKL, diag_gaussian_kl, set_lr
from harness.registry import register_algorithm
from harness.seeding import RunSeeds
from harness.blocks.gaussian import gaussian_log_prob
from harness.blocks.ppo import PPOUpdateMixin

from . import diagnostics
from .config import TUNED, CPPOConfig
from .losses import flow_matching_loss, score_regulariser, sliced_wasserstein
from .networks import Critic, FlowVelocity, GaussianKernel

__all__ = ["CPPOAgent", "make_cppo"]

POLICIES = ("flow+kernel", "flow")


class CPPOAgent(PPOUpdateMixin):
    """On-policy agent: ``[num_steps, num_envs]`` rollout -> conditional PPO -> distillation -> EMA."""

    def __init__(self, cfg: CPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        S, A = spec.obs_dim, spec.action_dim
        with seeded_init(seeds.init):
            self.flow = FlowVelocity(S, A, cfg).to(self.device)
            self.kernel = GaussianKernel(S, A, cfg).to(self.device)
            self.critic = Critic(S, cfg).to(self.device)
        self.flow_ref = copy.deepcopy(self.flow).requires_grad_(False)
        self.obs_norm = RunningNorm(S, device=self.device) if cfg.obs_norm else None
        # The conditional PPO step trains the kernel (not its frozen copy, kernel_reset="delta") and the critic.
        kernel = [p for p in self.kernel.parameters() if p.requires_grad]
        critic = [p for p in self.critic.parameters() if p.requires_grad]
        # foreach=True: Adam's multi-tensor implementation, the same arithmetic per element (bit-identical
        # to the default single-tensor loop on CPU, tested) with fewer kernel launches; the CPU default is
        # the per-parameter loop.
        if cfg.grad_clip == "separate":  # one parameter group each, so each is clipped on its own
            self.optimizer = torch.optim.Adam([{"params": kernel}, {"params": critic}], lr=cfg.lr, foreach=True)
        else:
            self.optimizer = torch.optim.Adam(kernel + critic, lr=cfg.lr, foreach=True)
        self.flow_optimizer = torch.optim.Adam(self.flow.parameters(), lr=cfg.flow_lr, foreach=True)
        self.kl_schedule = AdaptiveKL(cfg.lr, cfg.desired_kl, lr_max=cfg.lr_max)
        self.gen = seeds.generator("train", str(self.device))
        # The diagnostics' own stream: they never draw from (or advance) the training generator.
        self.diag_gen = torch.Generator(device=self.device)
        self.diag_gen.manual_seed(seeds.child("train", "cppo_diagnostics"))
        self.buffer = RolloutBuffer(
            cfg.num_steps, spec.num_envs, S, A, self.device,
            extras={"raw_actions": (A,), "x0": (A,), "a0": (A,), "log_probs": (), "means": (A,), "stds": (A,), "final_valid": ()},
        )
        other = POLICIES[1 - POLICIES.index(cfg.eval_policy)]
        self.eval_modes: tuple[str, ...] = (other,) + ((f"{other}_stochastic",) if cfg.eval_stochastic_extra else ())
        what = {"flow+kernel": ("the reference flow from x0 = 0, then the kernel mean",
                                "the reference flow from x0 ~ N(0, I), then a kernel sample (the behaviour policy)"),
                "flow": ("the reference flow from x0 = 0 (no kernel)", "the reference flow from x0 ~ N(0, I) (no kernel)")}
        self.eval_protocol = {
            "deterministic": what[cfg.eval_policy][0], "stochastic": what[cfg.eval_policy][1],
            "extra_modes": {other: what[other][0], **({f"{other}_stochastic": what[other][1]}
                                                     if cfg.eval_stochastic_extra else {})},
        }
        self.iterations = 0
        self.first_ratio: torch.Tensor | None = None
        """Ratios of the first PPO minibatch of the last update (exactly 1 by construction; for tests)."""

    # -- acting ---------------------------------------------------------------------------------
    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        return self.critic(obs_n)

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def _noise(self, s: torch.Tensor, stochastic: bool, g: torch.Generator) -> torch.Tensor:
        shape = (s.shape[0], self.spec.action_dim)
        return torch.randn(shape, generator=g, device=s.device) if stochastic else torch.zeros(shape, device=s.device)

    def _a0(self, s: torch.Tensor, stochastic: bool, g: torch.Generator) -> torch.Tensor:
        return self.flow_ref.sample(s, self._noise(s, stochastic, g), self.cfg.flow_steps)

    @torch.no_grad()
    def _policy(self, obs: torch.Tensor, policy: str, stochastic: bool, g: torch.Generator) -> torch.Tensor:
        s = self._norm(obs)
        a0 = self._a0(s, stochastic, g)
        if policy == "flow":
            return a0.clamp(-1.0, 1.0)
        mean, std = self.kernel(s, a0)
        a = mean + std * torch.randn(mean.shape, generator=g, device=mean.device) if stochastic else mean
        return a.clamp(-1.0, 1.0)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training: sample the combined policy (training generator) and return the extras."""
        s = self._norm(obs)
        x0 = self._noise(s, True, self.gen)
        a0 = self.flow_ref.sample(s, x0, self.cfg.flow_steps)
        mean, std = self.kernel(s, a0)
        raw = mean + std * torch.randn(mean.shape, generator=self.gen, device=mean.device)
        extras = {"raw_actions": raw, "x0": x0, "a0": a0, "log_probs": gaussian_log_prob(raw, mean, std), "means": mean,
                  "stds": std}
        return raw.clamp(-1.0, 1.0), extras

    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        """``deterministic`` / ``stochastic``: the ``eval_policy`` with x0 = 0 and the kernel mean, or
        sampled; extra modes ``"flow"`` / ``"flow+kernel"`` (deterministic) and ``"<policy>_stochastic"``."""
        if mode in ("deterministic", "stochastic"):
            return self._policy(obs, self.cfg.eval_policy, mode == "stochastic", generator)
        policy, _, suffix = mode.partition("_")
        if policy not in POLICIES or suffix not in ("", "stochastic"):
            raise unknown_eval_mode(self, mode)
        return self._policy(obs, policy, suffix == "stochastic", generator)

    # -- learning -------------------------------------------------------------------------------
    def _ppo(self, data: dict[str, torch.Tensor]) -> tuple[dict[str, float], int]:
        """Gaussian PPO's loop (``PPOUpdateMixin``) on the kernel at the stored a0, plus the score regulariser."""
        cfg = self.cfg

        def score(mb, mean, std):
            prior_mean, prior_std = self.kernel.prior(mb["a0"])
            reg = score_regulariser(mean, std, prior_mean, prior_std, cfg.score_reg).mean()
            return cfg.score_coef * reg, {"score_reg": reg, "kernel_shift": (mean - prior_mean).norm(dim=-1).mean()}

        scale = cfg.ema_tau ** 2
        schedule_kl = {"kernel": lambda kl: kl.item(), "scaled": lambda kl: scale * kl.item(), "realised": None}
        out, n, self.first_ratio = self._ppo_epochs(
            data, lambda mb: self.kernel(mb["obs"], mb["a0"]), lambda mb: self.critic(mb["obs"]), score,
            schedule_kl=schedule_kl[cfg.kl_source],
        )
        return out, n

    def _distill(self, obs: torch.Tensor, x0: torch.Tensor, a0: torch.Tensor, executed: torch.Tensor) -> tuple[dict[str, float], int]:
        """Flow matching of the improved policy into the online flow; fitting error on held-out states."""
        cfg, g = self.cfg, self.gen
        total = obs.shape[0]
        perm = torch.randperm(total, generator=g, device=g.device).to(obs.device)
        n_hold = min(cfg.fit_states, total // 10)
        hold, train = perm[:n_hold], perm[n_hold:]
        with torch.no_grad():
            if cfg.distill_targets == "new_kernel":
                mean, std = self.kernel(obs, a0)
                targets = mean + std * torch.randn(mean.shape, generator=g, device=mean.device)
            elif cfg.distill_targets == "new_mean":
                targets = self.kernel(obs, a0)[0]
            else:
                targets = executed
        size = max(1, train.numel() // cfg.distill_minibatches)
        fm_loss, n = 0.0, 0
        for _ in range(cfg.distill_epochs):
            order = train[torch.randperm(train.numel(), generator=g, device=g.device).to(obs.device)]
            for i in range(cfg.distill_minibatches):
                idx = order[i * size:(i + 1) * size]
                s = obs[idx]
                src = x0[idx] if cfg.distill_noise == "coupled" else None
                loss = flow_matching_loss(lambda x, t: self.flow(s, x, t), targets[idx], g, src)
                self.flow_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.flow.parameters(), cfg.max_grad_norm)
                self.flow_optimizer.step()
                fm_loss = fm_loss + loss.detach()  # stays on the device: no host sync per step
                n += 1
        out = {"flow_loss": float(fm_loss) / n}
        if n_hold > 0 and self.iterations % cfg.fit_every == 0:
            out.update(self._fit_error(obs[hold]))
        return out, n

    @torch.no_grad()
    def _fit_error(self, s: torch.Tensor) -> dict[str, float]:
        """Sliced W2 between the distilled flow and the teacher ``kernel_new * pi_ref`` at each held-out
        state (``fit_samples`` samples each), averaged over states; ``fit_swd_floor`` is the same distance
        between two independent teacher sample sets (the estimator's noise floor)."""
        cfg, g = self.cfg, self.gen
        S, M, A = s.shape[0], cfg.fit_samples, self.spec.action_dim
        s_rep = s.repeat_interleave(M, dim=0)

        def teacher() -> torch.Tensor:
            a0 = self._a0(s_rep, True, g)
            mean, std = self.kernel(s_rep, a0)
            return (mean + std * torch.randn(mean.shape, generator=g, device=mean.device)).reshape(S, M, A)

        x0 = torch.randn((S * M, A), generator=g, device=s.device)
        student = self.flow.sample(s_rep, x0, cfg.flow_steps).reshape(S, M, A)
        t1, t2 = teacher(), teacher()
        swd = sliced_wasserstein(student, t1, cfg.fit_projections, g).mean().item()
        floor = sliced_wasserstein(t2, t1, cfg.fit_projections, g).mean().item()
        return {"fit_swd": swd, "fit_swd_floor": floor}

    def reset_kernel(self, std: bool = True) -> None:
        """``kernel_reset="head"``: back to the initial kernel ``N((1 - h) a0, sigma_0^2)``, with the head's
        Adam state dropped (``kernel_reset_adam="soft"``: only its first moment zeroed); ``std=False``
        (``kernel_reset="mean"``) keeps the learned std and its state."""
        self.kernel.reset_head(std)
        for p in self.kernel.head_parameters(std):
            if self.cfg.kernel_reset_adam == "drop":
                self.optimizer.state.pop(p, None)
            elif p in self.optimizer.state:
                self.optimizer.state[p]["exp_avg"].zero_()

    # -- diagnostics (own generator; no effect on training) ---------------------------------------
    @torch.no_grad()
    def _acting(self, obs: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The acting policy's ``(a0, kernel mean, kernel std)`` at raw observations ``obs: [S, D]`` for
        source noise ``x0: [S, M, A]`` (same shape out), with the current normaliser, EMA flow and kernel."""
        s = self._norm(obs)
        s_rep = s[:, None, :].expand(*x0.shape[:-1], s.shape[-1]).reshape(-1, s.shape[-1])
        a0 = self.flow_ref.sample(s_rep, x0.reshape(-1, x0.shape[-1]), self.cfg.flow_steps)
        mean, std = self.kernel(s_rep, a0)
        return a0.reshape(x0.shape), mean.reshape(x0.shape), std.reshape(x0.shape)

    @torch.no_grad()
    def _acting_snapshot(self) -> dict[str, torch.Tensor]:
        """Samples of this rollout's acting policy at ``diag_states`` of its states (before the update)."""
        cfg, b, g = self.cfg, self.buffer, self.diag_gen
        obs = b["obs"].reshape(-1, b["obs"].shape[-1])
        S, M, A = min(cfg.diag_states, obs.shape[0]), cfg.diag_samples, self.spec.action_dim
        obs = obs[torch.randperm(obs.shape[0], generator=g, device=g.device)[:S].to(obs.device)]
        # source noise per state: M for the samples, M for the mixture components, and x0 = 0 (deterministic)
        x0 = torch.randn((S, 2 * M, A), generator=g, device=g.device).to(obs.device)
        x0 = torch.cat([x0, torch.zeros(S, 1, A, device=obs.device)], dim=1)
        eps = torch.randn((S, M, A), generator=g, device=g.device).to(obs.device)
        a0, mean, std = self._acting(obs, x0)
        return {"obs": obs, "x0": x0, "a0": a0, "mean": mean, "std": std, "a": mean[:, :M] + std[:, :M] * eps}

    @torch.no_grad()
    def _spread_stats(self, snap: dict[str, torch.Tensor]) -> dict[str, float]:
        a0_in, a0_across = diagnostics.spread(snap["a0"][:, :self.cfg.diag_samples])
        act_in, act_across = diagnostics.spread(snap["a"])
        return {"a0_std_state": a0_in, "a0_std_across": a0_across, "action_std_state": act_in,
                "action_std_across": act_across}

    @torch.no_grad()
    def _kernel_kl(self, snap: dict[str, torch.Tensor]) -> float:
        """Exact KL of the kernel before -> after the PPO step at the snapshot's (s, a0) (normaliser unchanged)."""
        a0 = snap["a0"]
        s = self._norm(snap["obs"])[:, None, :].expand(*a0.shape[:-1], -1)
        mean, std = self.kernel(s.reshape(-1, s.shape[-1]), a0.reshape(-1, a0.shape[-1]))
        return float(diag_gaussian_kl(snap["mean"].reshape(mean.shape), snap["std"].reshape(std.shape),
                                      mean, std).mean())

    @torch.no_grad()
    def _realised(self, snap: dict[str, torch.Tensor]) -> dict[str, float]:
        """The acting policy's change from this rollout to the next (after distillation, EMA, kernel reset
        and normaliser update), at the snapshot's states and x0 draws (``diagnostics``)."""
        _, mean, std = self._acting(snap["obs"], snap["x0"])
        old_mean, old_std, M = snap["mean"], snap["std"], self.cfg.diag_samples
        samples, components = slice(0, M), slice(M, 2 * M)
        return {
            "realised_kl": diagnostics.coupled_kl(old_mean[:, samples], old_std[:, samples], mean[:, samples], std[:, samples]),
            "realised_kl_marginal": diagnostics.marginal_kl(
                snap["a"], old_mean[:, components], old_std[:, components], mean[:, components], std[:, components]),
            "action_shift": float((mean[:, -1] - old_mean[:, -1]).norm(dim=-1).mean()),
        }

    def update(self) -> dict[str, float]:
        cfg, b = self.cfg, self.buffer
        snap = self._acting_snapshot() if cfg.diag_states else None
        data = self._ppo_batch(a0=b["a0"])
        obs_n = data["obs"]
        out, n_ppo = self._ppo(data)
        lr = self.optimizer.param_groups[0]["lr"]
        if snap is not None:
            out.update(self._spread_stats(snap), kernel_kl=self._kernel_kl(snap))
        with torch.no_grad():
            out["kernel_std"] = self.kernel(obs_n[0], b["a0"][0])[1].mean().item()
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
        fm, n_fm = self._distill(flat(obs_n), flat(b["x0"]), flat(b["a0"]), flat(b["raw_actions"]))
        out.update(fm)
        polyak_update(self.flow_ref, self.flow, cfg.ema_tau)
        if cfg.kernel_reset == "delta":
            self.kernel.sync_frozen()
        elif cfg.kernel_reset != "none":
            self.reset_kernel(std=cfg.kernel_reset == "head")
        if self.obs_norm is not None:
            self.obs_norm.update(b["obs"])
        if snap is not None:
            out.update(self._realised(snap))
            if cfg.kl_source == "realised":  # the next iteration's lr, from how far the acting policy moved
                set_lr(self.optimizer, self.kl_schedule.step(out["realised_kl"]))
        out.update(
            lr=lr, first_ratio_dev=float((self.first_ratio - 1.0).abs().max()),
            gradient_steps=float(n_ppo + n_fm), mean_reward=float(b["rewards"].mean()),
            a0_std_pooled=float(b["a0"].std(dim=(0, 1)).mean()),
        )
        b.clear()
        self.iterations += 1
        return out

    # -- checkpointing --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow.state_dict(), "flow_ref": self.flow_ref.state_dict(), "kernel": self.kernel.state_dict(),
            "critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict(),
            "flow_optimizer": self.flow_optimizer.state_dict(), "diag_gen": self.diag_gen.get_state(),
            **self._rollout_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore networks, optimisers, normaliser, lr, generator and the rollout in progress."""
        for name in ("flow", "flow_ref", "kernel", "critic", "optimizer", "flow_optimizer"):
            getattr(self, name).load_state_dict(state[name])
        if "diag_gen" in state:  # checkpoints from before the diagnostics had their own stream lack it
            self.diag_gen.set_state(state["diag_gen"])
        self._load_rollout_state(state)


@register_algorithm(name="cppo", config=CPPOConfig, on_policy=True, upstream="this work", tuned=TUNED)
def make_cppo(cfg: CPPOConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> CPPOAgent:
    """Registry factory for CPPO."""
    return CPPOAgent(cfg, spec, seeds, device)
