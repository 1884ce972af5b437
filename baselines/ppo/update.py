"""PPO's update loop (rsl_rl's ``epochs x minibatches`` of clipped-surrogate steps), shared by Gaussian
PPO and CPPO, whose conditional PPO step is the same loop on its Gaussian kernel.

Follows leggedrobotics/rsl_rl@c281c32 (``rsl_rl/algorithms/ppo.py``): adaptive-KL learning rate per
minibatch on the exact old/new Gaussian KL, clipped surrogate, clipped value loss, entropy bonus,
gradient-norm clipping.
"""

from __future__ import annotations

from typing import Callable

import torch

from harness.onpolicy import RolloutMixin
from harness.optim import diag_gaussian_kl, set_lr

from .losses import clipped_surrogate, gaussian_entropy, gaussian_log_prob, value_loss

__all__ = ["PPOUpdateMixin"]

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
    ) -> tuple[dict[str, float], int, torch.Tensor]:
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
        n, first_ratio = 0, None
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
