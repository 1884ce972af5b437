"""PPO's settings, rollout bookkeeping and update loop (rsl_rl's ``epochs x minibatches`` of
clipped-surrogate steps), shared by Gaussian PPO, CPPO (whose conditional PPO step is the same loop on
its Gaussian kernel) and any other algorithm that runs a PPO step on a Gaussian.

A host class provides ``self.buffer`` (a ``RolloutBuffer`` declaring a ``final_valid`` extra),
``self.cfg`` (a ``PPOLoopConfig``), ``self._norm(obs)``, ``self._value(obs_normalised) -> [..]``,
``self.optimizer``, and for checkpoints ``self.obs_norm`` (or None), ``self.kl_schedule``
(``AdaptiveKL``), ``self.gen`` and ``self.iterations`` (``RolloutMixin``'s annotations spell this contract out for the type checker).

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): adaptive-KL learning rate per
minibatch on the exact old/new Gaussian KL, clipped surrogate, clipped value loss, entropy bonus,
gradient-norm clipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch

from ..agent import Transition
from ..buffers import RolloutBuffer, gae
from ..normalization import RunningNorm
from ..optim import AdaptiveKL, diag_gaussian_kl, set_lr
from .gaussian import clipped_surrogate, gaussian_entropy, gaussian_log_prob, value_loss

__all__ = ["PPOLoopConfig", "RolloutMixin", "PPOUpdateMixin"]


@dataclass(frozen=True)
class PPOLoopConfig:
    """What PPO's rollout and update loop (``PPOUpdateMixin``) reads; shared by
    Gaussian PPO and CPPO (whose conditional PPO step is the same loop), so both use the same names and
    defaults."""

    num_envs: int = 0
    """Parallel training envs; 0 = the task's default."""
    num_steps: int = 24
    """Rollout length per env per iteration (rsl_rl ``num_steps_per_env``)."""
    epochs: int = 5
    """PPO passes over each rollout."""
    minibatches: int = 4
    """PPO minibatches per epoch."""
    clip: float = 0.2
    """PPO ratio clip epsilon (also used for the clipped value loss)."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    value_coef: float = 1.0
    """Value-loss weight."""
    entropy_coef: float = 0.01
    """Entropy-bonus weight (of the trained Gaussian: PPO's policy, CPPO's kernel)."""
    lr: float = 1e-3
    """Initial Adam learning rate (adapted when schedule is 'adaptive')."""
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """rsl_rl's adaptive-KL learning-rate schedule on the exact old/new Gaussian KL, or a fixed rate."""
    desired_kl: float = 0.01
    """Target KL of the adaptive schedule."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    clipped_value_loss: bool = True
    """Clip the value update around the rollout's values (rsl_rl default)."""
    critic_hidden: tuple[int, ...] = (256, 128, 128)
    """Critic MLP hidden sizes."""
    activation: str = "elu"
    """Hidden activation (elu as rsl_rl)."""
    obs_norm: bool = True
    """Running observation normalisation (rsl_rl ``empirical_normalization``; updated at the end of
    ``update`` only)."""
    reward_scale: float = 1.0
    """Multiplier on rewards before GAE (Brax ``reward_scaling``)."""
    adv_norm: Literal["rollout", "minibatch", "none"] = "rollout"
    """Advantage normalisation over the whole rollout (rsl_rl default) or per minibatch (Brax)."""

    def validate(self) -> None:
        for name in ("num_steps", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (0.0 < self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ValueError("gamma must be in (0, 1] and lam in [0, 1]")



class RolloutMixin:
    """``observe`` / ``ready`` / ``_advantages`` and the shared checkpoint state of agents that learn
    from one full rollout. The annotations below are the contract with the class that mixes it in
    (checked by mypy): it sets these attributes in ``__init__`` and defines ``_norm`` and ``_value``."""

    cfg: Any
    """A ``PPOLoopConfig`` (or a subclass)."""
    buffer: RolloutBuffer
    optimizer: torch.optim.Optimizer
    """Adam over the trained Gaussian's and the critic's parameters."""
    obs_norm: RunningNorm | None
    kl_schedule: AdaptiveKL
    gen: torch.Generator
    iterations: int

    def _norm(self, obs: torch.Tensor) -> torch.Tensor:
        """Observation normalisation of the host."""
        raise NotImplementedError

    def _value(self, obs_n: torch.Tensor) -> torch.Tensor:
        """The host's critic on normalised observations, ``[..]``."""
        raise NotImplementedError

    def observe(self, t: Transition) -> None:
        """Store one vector step (rewards scaled by ``cfg.reward_scale``) plus the agent's extras."""
        self.buffer.add(
            obs=t.obs, next_obs=t.next_obs, actions=t.action, rewards=t.reward * self.cfg.reward_scale,
            terminated=t.terminated, truncated=t.truncated,
            final_valid=torch.full_like(t.reward, float(t.final_obs_valid)), **t.extras,
        )
        self.buffer.last_obs = t.carry_obs

    def ready(self) -> bool:
        """True once the rollout holds ``num_steps`` vector steps."""
        return self.buffer.full

    @torch.no_grad()
    def _advantages(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values, advantages, returns)`` of the stored rollout under the current critic.

        Time-outs bootstrap from V(final obs); without a final observation (IsaacLab) they use
        rsl_rl's fallback V(s_t)."""
        b, cfg = self.buffer, self.cfg
        values = self._value(self._norm(b["obs"]))
        next_values = self._value(self._norm(b["next_obs"]))
        next_values = torch.where(b["final_valid"] > 0, next_values, values)
        done = b["terminated"] | b["truncated"]
        adv, returns = gae(b["rewards"], values, next_values, b["terminated"], done, cfg.gamma, cfg.lam)
        return values, adv, returns

    def _rollout_state(self) -> dict:
        """Checkpoint entries every rollout agent has: normaliser, adaptive lr, generator, iteration count."""
        return {
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
            "lr": self.kl_schedule.lr, "gen": self.gen.get_state(), "iterations": self.iterations,
        }

    def _load_rollout_state(self, state: dict) -> None:
        """Restore what ``_rollout_state`` saved and discard any partial rollout."""
        if self.obs_norm is not None and state["obs_norm"] is not None:
            self.obs_norm.load_state_dict(state["obs_norm"])
        self.kl_schedule.lr = state["lr"]
        self.gen.set_state(state["gen"])
        self.iterations = state["iterations"]
        self.buffer.clear()


Minibatch = dict[str, torch.Tensor]


class PPOUpdateMixin(RolloutMixin):
    """``RolloutMixin`` plus the PPO step. The host also provides ``self.optimizer`` (Adam over the
    trained Gaussian's and the critic's parameters) and a config with PPO's fields (``epochs``,
    ``minibatches``, ``clip``, ``schedule``, ``adv_norm``, ``value_coef``, ``entropy_coef``,
    ``max_grad_norm``, ``clipped_value_loss``); the buffer stores ``raw_actions``, ``log_probs``,
    ``means`` and ``stds`` of the Gaussian that acted."""

    def _ppo_batch(self, **fields: torch.Tensor) -> dict[str, torch.Tensor]:
        """The rollout as PPO minibatch fields: normalised obs, the acting Gaussian's stored actions and
        parameters, values, advantages (normalised over the rollout when ``adv_norm == "rollout"``),
        returns; plus ``fields``."""
        b = self.buffer
        values, adv, returns = self._advantages()
        if self.cfg.adv_norm == "rollout":
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        return {
            "obs": self._norm(b["obs"]), "raw_actions": b["raw_actions"], "log_probs": b["log_probs"],
            "means": b["means"], "stds": b["stds"], "values": values, "adv": adv, "returns": returns, **fields,
        }

    def _ppo_epochs(
        self,
        data: dict[str, torch.Tensor],
        dist_params: Callable[[Minibatch], tuple[torch.Tensor, torch.Tensor]],
        value: Callable[[Minibatch], torch.Tensor],
        extra_loss: Callable[[Minibatch, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
        | None = None,
    ) -> tuple[dict[str, float], int, torch.Tensor | None]:
        """Run the PPO epochs over ``data``; returns (mean statistics, minibatch count, ratios of the first
        minibatch).

        ``dist_params(mb)`` gives the trained Gaussian's mean and std at the minibatch (PPO: the policy;
        CPPO: the kernel at the stored a0), ``value(mb)`` the critic's values; ``extra_loss(mb, mean, std)``
        returns a term added to the loss and detached statistics to average (CPPO: the score
        regulariser). Gradients are clipped over ``self.optimizer``'s parameters. Statistics stay on the
        device: one host sync per minibatch, for the adaptive lr.
        """
        cfg = self.cfg
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        stats: dict[str, torch.Tensor | float] = dict.fromkeys(
            ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"), 0.0
        )
        n = 0
        first_ratio: torch.Tensor | None = None
        for _ in range(cfg.epochs):
            for mb in self.buffer.minibatches(data, cfg.minibatches, self.gen):
                mean, std = dist_params(mb)
                log_prob = gaussian_log_prob(mb["raw_actions"], mean, std)
                with torch.no_grad():
                    kl = diag_gaussian_kl(mb["means"], mb["stds"], mean, std).mean()
                if cfg.schedule == "adaptive":
                    set_lr(self.optimizer, self.kl_schedule.step(kl.item()))
                a = mb["adv"]
                if cfg.adv_norm == "minibatch":
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pol_loss, ratio = clipped_surrogate(log_prob, mb["log_probs"], a, cfg.clip)
                v_loss = value_loss(value(mb), mb["values"], mb["returns"], cfg.clip, cfg.clipped_value_loss)
                ent = gaussian_entropy(std).mean()
                loss = pol_loss + cfg.value_coef * v_loss - cfg.entropy_coef * ent
                extra: dict[str, torch.Tensor] = {}
                if extra_loss is not None:
                    term, extra = extra_loss(mb, mean, std)
                    loss = loss + term
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    if first_ratio is None:
                        first_ratio = ratio.detach()
                    for key, val in (("policy_loss", pol_loss), ("value_loss", v_loss), ("entropy", ent),
                                     ("approx_kl", kl),
                                     ("clip_fraction", ((ratio - 1.0).abs() > cfg.clip).float().mean()),
                                     *extra.items()):
                        stats[key] = stats.get(key, 0.0) + val.detach()
                n += 1
        return {k: float(v) / n for k, v in stats.items()}, n, first_ratio
