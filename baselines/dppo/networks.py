"""DPPO's networks: the epsilon-prediction denoiser, the denoising chain (sampler and step
log-probabilities) and the critic.

Follows irom-lab/dppo@7b10df6 ``model/diffusion/diffusion_vpg.py`` (``VPGDiffusion.p_mean_var``,
``forward``, ``get_logprobs``) and ``model/diffusion/mlp_diffusion.py`` (``DiffusionMLP``), with the
DDPM tables of the shared ``GaussianDiffusion`` (cosine schedule, the same as upstream's).

Chain convention: ``chain[:, 0]`` is x_ft (the state entering the first fine-tuned step), and
``chain[:, j + 1]`` is the output of chain step j, whose DDPM index is ``t = ft - 1 - j``; the last
entry is the action (before the env's [-1, 1] clip).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from harness.blocks.onpolicy import GaussianDiffusion, SinusoidalEmbedding, mlp

from .config import DPPOConfig

__all__ = ["Denoiser", "DenoisingChain", "Critic"]

MODES = ("train", "deterministic", "dppo_eval")


class Denoiser(nn.Module):
    """``eps(x_t, t, s)``: an MLP on ``[x_t, time_emb(t), s]`` (upstream ``DiffusionMLP``, horizon 1)."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: DPPOConfig):
        super().__init__()
        d = cfg.time_dim
        self.time_embedding = nn.Sequential(SinusoidalEmbedding(d), nn.Linear(d, 2 * d), nn.Mish(), nn.Linear(2 * d, d))
        self.net = mlp(action_dim + d + obs_dim, cfg.actor_hidden, action_dim, cfg.actor_activation)

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.time_embedding(t), obs], dim=-1))


class DenoisingChain(nn.Module):
    """The K-step DDPM policy: the trained denoiser ``actor`` for the last ``ft`` steps, a frozen copy
    of its initial weights (``actor_base``) for the first ``K - ft`` (none when ft = K)."""

    def __init__(self, obs_dim: int, action_dim: int, cfg: DPPOConfig, device: torch.device):
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.K, self.ft = cfg.denoising_steps, cfg.ft_denoising_steps
        self.ddpm = GaussianDiffusion.cosine(self.K, device)
        self.actor = Denoiser(obs_dim, action_dim, cfg).to(device)
        self.actor_base = copy.deepcopy(self.actor).requires_grad_(False) if self.ft < self.K else None

    def mean_std(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor, base: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and (unfloored) std of p(x_{t-1} | x_t, s): predicted x0 clipped to +-``denoised_clip_value``,
        DDPM posterior mean, clipped posterior log-variance (``t`` is a ``[B]`` long tensor)."""
        net = self.actor_base if base else self.actor
        x0 = self.ddpm.predict_x0(x, t, net(x, t, obs))
        c = self.cfg.denoised_clip_value
        if c > 0:
            x0 = x0.clamp(-c, c)
        mean, _, log_var = self.ddpm.posterior(x0, x, t)
        return mean, torch.exp(0.5 * log_var).expand_as(mean)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, x_K: torch.Tensor, mode: str, g: torch.Generator | None) -> torch.Tensor:
        """Run the K steps from ``x_K``; returns the fine-tuned part of the chain ``[B, ft + 1, A]``.

        ``"train"``: every step's std floored at ``min_sampling_denoising_std``, noise clipped to
        +-``randn_clip_value`` (upstream's training sampler). ``"deterministic"`` (the suite's
        definition, with ``x_K = 0``): no noise at any step. ``"dppo_eval"``: upstream's
        ``deterministic=True`` DDPM sampler: std floored at 1e-3 except none at t = 0.
        """
        if mode not in MODES:
            raise ValueError(f"unknown DPPO sampling mode {mode!r}; allowed: {', '.join(MODES)}")
        cfg, B = self.cfg, obs.shape[0]
        x, chain = x_K, []
        for t in reversed(range(self.K)):
            if t == self.ft - 1:
                chain.append(x)
            tb = torch.full((B,), t, dtype=torch.long, device=obs.device)
            mean, std = self.mean_std(x, tb, obs, base=t >= self.ft)
            if mode == "deterministic" or (mode == "dppo_eval" and t == 0):
                x = mean
            else:
                std = std.clamp(min=cfg.min_sampling_denoising_std if mode == "train" else 1e-3)
                noise = torch.randn(mean.shape, generator=g, device=mean.device)
                x = mean + std * noise.clamp(-cfg.randn_clip_value, cfg.randn_clip_value)
            if t < self.ft:
                chain.append(x)
        return torch.stack(chain, dim=1)

    def step_log_probs(self, obs: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
        """Per-dimension Gaussian log-densities of every fine-tuned transition of ``chain``
        ``[B, ft + 1, A]`` under the current denoiser, std floored at ``min_logprob_denoising_std``
        (upstream ``get_logprobs``): ``[B, ft, A]``. Their sum is the chain's log-likelihood."""
        B, ft, A = chain.shape[0], self.ft, self.action_dim
        x_prev = chain[:, :-1].reshape(B * ft, A)
        x_next = chain[:, 1:].reshape(B * ft, A)
        t = torch.arange(ft - 1, -1, -1, device=chain.device).repeat(B)
        s = obs.repeat_interleave(ft, dim=0)
        mean, std = self.mean_std(x_prev, t, s)
        std = std.clamp(min=self.cfg.min_logprob_denoising_std)
        lp = torch.distributions.Normal(mean, std).log_prob(x_next)
        return lp.reshape(B, ft, A)


class Critic(nn.Module):
    """``V(s)`` MLP (separate from the actor, as upstream)."""

    def __init__(self, obs_dim: int, cfg: DPPOConfig):
        super().__init__()
        self.net = mlp(obs_dim, cfg.critic_hidden, 1, cfg.activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
