"""Rollout bookkeeping shared by on-policy agents (Gaussian PPO, CPPO): storing transitions in a
``RolloutBuffer``, readiness, and GAE with time-out bootstrapping.

A host class provides ``self.buffer`` (a ``RolloutBuffer`` declaring a ``final_valid`` extra),
``self.cfg`` with ``reward_scale``, ``gamma`` and ``lam``, ``self._norm(obs)``,
``self._value(obs_normalised) -> [.., ]``, and for checkpoints ``self.obs_norm`` (or None),
``self.kl_schedule`` (``AdaptiveKL``), ``self.gen`` and ``self.iterations``.
"""

from __future__ import annotations

import torch

from .agent import Transition
from .buffers import gae

__all__ = ["RolloutMixin"]


class RolloutMixin:
    """``observe`` / ``ready`` / ``_advantages`` and the shared checkpoint state of agents that learn
    from one full rollout."""

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
