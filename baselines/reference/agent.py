"""Reference policies (registered as ``zero_action`` and ``random_action``): they never learn, so a
reader of the tables sees when a method scores below doing nothing or acting at random.

They run through the same runner, budget and evaluation grid as every algorithm, so their records
are ordinary runs (manifest ``"reference": true``); analysis shows them as reference rows per task
and leaves them out of the aggregates. Put them in a sweep's ``algorithms`` list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from harness.agent import Transition, unknown_eval_mode
from harness.env import EnvSpec
from harness.registry import register_algorithm
from harness.seeding import RunSeeds

__all__ = ["ReferenceConfig", "ReferenceAgent"]


@dataclass(frozen=True)
class ReferenceConfig:
    """Reference policies have no hyperparameters besides the env count."""

    num_envs: int = 0
    """Parallel training envs; 0 = the task's default (they only step the env)."""


class ReferenceAgent:
    """Acts with all-zero actions (``kind="zero"``) or uniform actions in [-1, 1] (``kind="random"``)."""

    def __init__(self, kind: str, spec: EnvSpec, seeds: RunSeeds, device: str):
        self.kind, self.spec, self.device = kind, spec, torch.device(device)
        self.gen = seeds.generator("train", str(self.device))
        what = "all-zero actions" if kind == "zero" else "uniform random actions in [-1, 1]"
        self.eval_protocol = {"deterministic": what, "stochastic": what, "extra_modes": {}}

    def _action(self, n: int, generator: torch.Generator) -> torch.Tensor:
        shape = (n, self.spec.action_dim)
        if self.kind == "zero":
            return torch.zeros(shape, device=self.device)
        return torch.rand(shape, generator=generator, device=self.device) * 2.0 - 1.0

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self._action(obs.shape[0], self.gen), {}

    @torch.no_grad()
    def eval_act(self, obs: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
        if mode not in ("deterministic", "stochastic"):
            raise unknown_eval_mode(self, mode)
        return self._action(obs.shape[0], generator)

    def observe(self, transition: Transition) -> None:
        pass

    def ready(self) -> bool:
        return False

    def update(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"].cpu())  # map_location may have moved it to the device


@register_algorithm(name="zero_action", config=ReferenceConfig, on_policy=True, upstream="reference", reference=True)
def make_zero(cfg: ReferenceConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> ReferenceAgent:
    """Registry factory: the all-zero-action policy."""
    return ReferenceAgent("zero", spec, seeds, device)


@register_algorithm(name="random_action", config=ReferenceConfig, on_policy=True, upstream="reference", reference=True)
def make_random(cfg: ReferenceConfig, spec: EnvSpec, seeds: RunSeeds, device: str) -> ReferenceAgent:
    """Registry factory: the uniform-random-action policy."""
    return ReferenceAgent("random", spec, seeds, device)
