"""DACER losses and the entropy regulator as pure functions (shapes documented per function).

Follows happy-yan/DACER-Diffusion-with-Online-RL@848c1f2 ``relax/algorithm/dacer.py`` (own code).
The mixture fit is a batched torch EM over states on the training device, replacing upstream's
per-state scikit-learn ``GaussianMixture`` run on the CPU through ``jax.pure_callback``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "td_targets",
    "running_mean_std",
    "distributional_critic_loss",
    "actor_loss",
    "fit_gmm",
    "gmm_entropy",
    "alpha_loss",
]


def td_targets(
    reward: torch.Tensor,
    terminated: torch.Tensor,
    next_mean: torch.Tensor,
    next_std: torch.Tensor,
    z: torch.Tensor,
    gamma: float,
    z_clip: float = 3.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected and sampled TD targets ``[B]``.

    ``reward`` [B] (already scaled), ``terminated`` [B] bool (only terminal states stop the
    bootstrap; time-outs bootstrap), ``next_mean``/``next_std`` [2, B] of the target critics at
    (s', a'), ``z`` [2, B] standard normal draws, clipped to ``[-z_clip, z_clip]``. The expected
    target uses the lower of the two means; the sampled one uses the sample of that same critic.
    """
    not_term = 1.0 - terminated.float()
    samples = next_mean + next_std * z.clamp(-z_clip, z_clip)
    lower = next_mean[0] < next_mean[1]
    q_next = torch.minimum(next_mean[0], next_mean[1])
    q_next_sample = torch.where(lower, samples[0], samples[1])
    return reward + gamma * not_term * q_next, reward + gamma * not_term * q_next_sample


def running_mean_std(old: torch.Tensor, std: torch.Tensor, tau: float) -> torch.Tensor:
    """Per-critic running mean of the predicted std: batch mean at first (``old < 0``), then Polyak.

    ``old`` [2], ``std`` [2, B]; returns [2] (no gradient).
    """
    new = std.detach().mean(-1)
    return torch.where(old < 0, new, tau * new + (1.0 - tau) * old)


def distributional_critic_loss(
    mean: torch.Tensor,
    std: torch.Tensor,
    backup: torch.Tensor,
    backup_sample: torch.Tensor,
    mean_std: torch.Tensor,
    bound: float = 3.0,
    eps: float = 0.1,
) -> torch.Tensor:
    """DSAC-T loss summed over the twin critics (a scalar).

    ``mean``/``std`` [2, B] of the online critics at (s, a); ``backup``/``backup_sample`` [B];
    ``mean_std`` [2] running mean std. Per critic, the mean follows the expected target and the std
    the sampled target clipped to ``mean +- bound * mean_std``; both gradients are scaled by
    ``(mean_std^2 + eps) / (std^2 + eps)`` (the std term by ``std^3 + eps`` in the denominator).
    """
    ms = mean_std.detach()[:, None]
    std_d = std.detach().clamp(min=0.0)
    bounded = (mean + (backup_sample - mean).clamp(-bound * ms, bound * ms)).detach()
    mean_term = mean * (backup - mean).detach() / (std_d.pow(2) + eps)
    std_term = std * ((mean.detach() - bounded).pow(2) - std_d.pow(2)) / (std_d.pow(3) + eps)
    per_critic = -(ms[:, 0].pow(2) + eps) * (mean_term + std_term).mean(-1)
    return per_critic.sum()


def actor_loss(q_mean: torch.Tensor) -> torch.Tensor:
    """``mean(-min(Q1_mean, Q2_mean))`` over the batch; ``q_mean`` [2, B]."""
    return -torch.minimum(q_mean[0], q_mean[1]).mean()


def _gauss_logpdf(x: torch.Tensor, mean: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """log N(x | mean_k, L_k L_k^T): ``x`` [B, S, D], ``mean`` [B, K, D], ``chol`` [B, K, D, D] -> [B, S, K]."""
    D = x.shape[-1]
    diff = x[:, None] - mean[:, :, None]  # [B, K, S, D]
    sol = torch.linalg.solve_triangular(chol, diff.transpose(-1, -2), upper=False)  # [B, K, D, S]
    maha = sol.pow(2).sum(-2)  # [B, K, S]
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # [B, K]
    return (-0.5 * (maha + logdet[..., None] + D * math.log(2 * math.pi))).transpose(1, 2)


def _kmeans_init(x: torch.Tensor, k: int, generator: torch.Generator | None, iters: int) -> torch.Tensor:
    """k-means++ seeding and ``iters`` Lloyd steps per batch row: returns hard responsibilities [B, S, K]."""
    B, S, _ = x.shape
    rows = torch.arange(B, device=x.device)
    first = torch.randint(0, S, (B,), generator=generator, device=x.device)
    centers = [x[rows, first]]
    d2 = (x - centers[0][:, None]).pow(2).sum(-1)
    for _ in range(1, k):
        probs = d2 + 1e-12
        idx = torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=generator).squeeze(-1)
        centers.append(x[rows, idx])
        d2 = torch.minimum(d2, (x - centers[-1][:, None]).pow(2).sum(-1))
    c = torch.stack(centers, 1)  # [B, K, D]
    for _ in range(iters):
        assign = torch.cdist(x, c).argmin(-1)  # [B, S]
        onehot = torch.nn.functional.one_hot(assign, k).to(x.dtype)  # [B, S, K]
        n = onehot.sum(1)  # [B, K]
        c = torch.where(n[..., None] > 0, onehot.transpose(1, 2) @ x / n.clamp(min=1)[..., None], c)
    return torch.nn.functional.one_hot(torch.cdist(x, c).argmin(-1), k).to(x.dtype)


def fit_gmm(
    x: torch.Tensor,
    k: int = 3,
    generator: torch.Generator | None = None,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit one full-covariance K-component Gaussian mixture per row of ``x`` [B, S, D] by batched EM.

    Mirrors scikit-learn ``GaussianMixture`` defaults (k-means initialisation, ``reg_covar`` 1e-6,
    ``tol`` 1e-3 on the mean log-likelihood, ``max_iter`` 100); all rows iterate until every row has
    converged. Returns ``(weights [B, K], means [B, K, D], covariances [B, K, D, D])``.
    """
    x = x.detach().double()
    B, S, D = x.shape
    eye = torch.eye(D, dtype=x.dtype, device=x.device)
    resp = _kmeans_init(x, k, generator, iters=10)
    prev = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
    tiny = 10 * torch.finfo(x.dtype).eps
    for _ in range(max_iter):
        # M step.
        nk = resp.sum(1) + tiny  # [B, K]
        means = resp.transpose(1, 2) @ x / nk[..., None]  # [B, K, D]
        diff = x[:, None] - means[:, :, None]  # [B, K, S, D]
        covs = (resp.transpose(1, 2)[..., None] * diff).transpose(-1, -2) @ diff / nk[..., None, None]
        covs = covs + reg_covar * eye
        weights = nk / S
        # E step.
        chol = torch.linalg.cholesky(covs)
        log_joint = _gauss_logpdf(x, means, chol) + torch.log(weights)[:, None]  # [B, S, K]
        log_norm = torch.logsumexp(log_joint, -1, keepdim=True)
        resp = torch.exp(log_joint - log_norm)
        ll = log_norm.squeeze(-1).mean(-1)  # [B]
        if bool(((ll - prev).abs() < tol).all()):
            break
        prev = ll
    # Final M step so the parameters match the last responsibilities (as scikit-learn).
    nk = resp.sum(1) + tiny
    means = resp.transpose(1, 2) @ x / nk[..., None]
    diff = x[:, None] - means[:, :, None]
    covs = (resp.transpose(1, 2)[..., None] * diff).transpose(-1, -2) @ diff / nk[..., None, None] + reg_covar * eye
    return nk / S, means, covs


def gmm_entropy(weights: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """Upstream's mixture-entropy estimate per row: ``-sum w log w + sum w * H(N(mu_k, Sigma_k))``
    (exact for well separated components, an upper bound otherwise). ``weights`` [B, K],
    ``covs`` [B, K, D, D] -> [B]."""
    D = covs.shape[-1]
    comp = 0.5 * D * (1.0 + math.log(2 * math.pi)) + 0.5 * torch.linalg.slogdet(covs)[1]
    w = weights.clamp(min=1e-300)
    return -(weights * torch.log(w)).sum(-1) + (weights * comp).sum(-1)


def alpha_loss(log_alpha: torch.Tensor, entropy: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """``-log_alpha * (target - H)``: its gradient ``H - target`` lowers alpha when the entropy is above
    target and raises it when below."""
    return -(log_alpha * (target_entropy - entropy.detach())).mean()
