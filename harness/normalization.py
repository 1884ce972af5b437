"""Running observation normalisation (parallel Welford / Chan et al. update), on the training device."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RunningNorm"]


class RunningNorm(nn.Module):
    """Tracks mean/variance of a stream of ``[B, D]`` batches; ``forward`` normalises and clips.

    Statistics are buffers, so they travel with ``state_dict``. ``update`` is called by agents in
    ``observe`` (training data only), never during evaluation.
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-2, clip: float = 10.0, device: str | torch.device = "cpu"):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, device=device))
        self.register_buffer("var", torch.ones(dim, device=device))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64, device=device))
        self.eps = eps
        self.clip = clip

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.shape[0]).float()
        n = x.shape[0]
        if n == 0:
            return
        b_mean = x.mean(0)
        b_var = x.var(0, unbiased=False)
        total = self.count + n
        delta = b_mean - self.mean
        w = (n / total).float()
        self.mean += delta * w
        self.var.copy_(self.var * (1 - w) + b_var * w + delta.pow(2) * w * (1 - w))
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)
