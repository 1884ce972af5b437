"""Every shared internal FPO depends on, imported in this one place.

The on-policy rollout bookkeeping (``RolloutMixin``: transition storage, GAE with the time-out
bootstrap), the rollout buffer, observation normalisation, PPO's loop settings and value loss, the
Euler flow sampler and the MLP helpers live in ``harness`` and ``harness.blocks``. If those move
(e.g. into ``harness/blocks/``), only these imports change.
"""

from __future__ import annotations

from harness.blocks.ppo import PPOLoopConfig, RolloutMixin
from harness.blocks.gaussian import value_loss
from harness.buffers import RolloutBuffer
from harness.diffusion import euler_flow_indexed
from harness.env import EnvSpec
from harness.nn import ACTIVATIONS, seeded_init
from harness.normalization import RunningNorm
from harness.optim import AdaptiveKL
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

__all__ = [
    "PPOLoopConfig", "value_loss", "RolloutBuffer", "euler_flow_indexed", "EnvSpec", "ACTIVATIONS",
    "seeded_init", "RunningNorm", "RolloutMixin", "AdaptiveKL", "register_algorithm", "RunSeeds",
]
