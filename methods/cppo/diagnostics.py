"""CPPO's spread and realised-KL diagnostics (issue 13 item 1), pure functions of sampled tensors.

The acting policy of one rollout is ``x0 ~ N(0, I)``, ``a0 = F_ref(s, x0)`` (the EMA flow's Euler map),
``a ~ N(mu(s, a0), sigma(s, a0)^2)`` (the kernel), all on the observation normalised with that rollout's
statistics. Its density ``pi(a | s) = E_x0 N(a; mu(s, F_ref(s, x0)), sigma^2)`` is a mixture with no
closed form, so its KL between two consecutive rollouts is estimated two ways at a set of rollout
states (``README.md`` "Diagnostics"):

- ``coupled_kl``: ``E_x0 KL(N(mu_old(x0), sigma_old^2) || N(mu_new(x0), sigma_new^2))``, the exact KL of
  the two conditional Gaussians given the *same* x0, averaged over x0 samples. It is the KL between the
  joint laws of ``(x0, a)``, hence an upper bound of the marginal KL (chain rule / data processing), with
  equality when the flow's change is a pure change of the mean map; deterministic given the x0 draws,
  so it has little variance.
- ``marginal_kl``: the plain Monte-Carlo estimate ``mean_j [log p_old(a_j) - log p_new(a_j)]`` with
  ``a_j`` drawn from the old policy and each density estimated as a mixture over a second, independent
  set of K x0 draws (``log (1/K) sum_k N(a; mu(x0_k), sigma(x0_k)^2)``); consistent as K grows, biased
  at finite K (each log-density is underestimated by Jensen, partly cancelling in the difference).

Shapes: ``[S, M, A]`` = states x samples per state x action dims.
"""

from __future__ import annotations

import math

import torch

from harness.blocks.gaussian import gaussian_log_prob
from harness.optim import diag_gaussian_kl

__all__ = ["spread", "coupled_kl", "mixture_log_prob", "marginal_kl", "RENAMED_KEYS", "canonical_keys"]

RENAMED_KEYS: dict[str, str] = {"a0_std": "a0_std_pooled"}
"""Train-log keys renamed since records were made (old -> new). ``a0_std`` was the std of the stored a0
over all T x N rollout samples (across-state variation plus per-state noise, issue 13 finding 4): the
same quantity is now logged as ``a0_std_pooled``, next to the separated ``a0_std_state`` /
``a0_std_across``."""


def canonical_keys(entry: dict[str, object]) -> dict[str, object]:
    """A ``train_log.jsonl`` entry with old key names mapped to the current ones (old logs stay readable)."""
    return {RENAMED_KEYS.get(k, k): v for k, v in entry.items()}


def spread(x: torch.Tensor) -> tuple[float, float]:
    """``(within, across)`` for samples ``x: [S, M, A]``: the std over the M samples at each state
    (averaged over states and action dims: the per-state noise), and the std over the S states of the
    per-state sample mean (averaged over action dims: how much the policy depends on the state)."""
    within = x.std(dim=1).mean()
    across = x.mean(dim=1).std(dim=0).mean()
    return float(within), float(across)


def coupled_kl(mean_old: torch.Tensor, std_old: torch.Tensor, mean_new: torch.Tensor, std_new: torch.Tensor) -> float:
    """``E_x0 KL(N(mean_old, std_old^2) || N(mean_new, std_new^2))`` over all leading dims (the same x0
    produced ``[..., i, :]`` of old and new): an upper bound of the marginal KL."""
    return float(diag_gaussian_kl(mean_old, std_old, mean_new, std_new).mean())


def mixture_log_prob(a: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``log (1/K) sum_k N(a_j; mean_k, std_k^2)`` per state: ``a: [S, M, A]``, ``mean, std: [S, K, A]``
    -> ``[S, M]``."""
    lp = gaussian_log_prob(a[:, :, None, :], mean[:, None, :, :], std[:, None, :, :])  # [S, M, K]
    return torch.logsumexp(lp, dim=-1) - math.log(mean.shape[1])


def marginal_kl(
    a: torch.Tensor, mean_old: torch.Tensor, std_old: torch.Tensor, mean_new: torch.Tensor, std_new: torch.Tensor
) -> float:
    """Monte-Carlo ``KL(pi_old || pi_new)``: ``a: [S, M, A]`` sampled from the old policy; the mixture
    components ``[S, K, A]`` of old and new come from one shared, independent set of x0 draws."""
    return float((mixture_log_prob(a, mean_old, std_old) - mixture_log_prob(a, mean_new, std_new)).mean())
