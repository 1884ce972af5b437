"""Probe-state sampling: draw actions from the stochastic policy at task-given states.

A task opts in by giving its env class an attribute ``probe_states``: a tuple of
``(name, observation)`` pairs (e.g. ``toy/MultiGoalSQL``: the start state and two symmetric points).
Tasks without it (every Playground / IsaacLab task) record no probes.

At each evaluation point :class:`ProbeSampler` asks the agent for ``samples`` actions per probe state
with ``eval_act(obs, "stochastic", g)``, the behaviour policy exactly as in training (the
evaluation protocol's ``stochastic`` mode), with a generator seeded from the eval seed, so probes
never perturb the training stream and every evaluation point (and every algorithm with the same root
seed) uses the same draw stream. The samples go to ``probes.jsonl`` (:mod:`harness.probe_records`);
analysis counts action modes from them (:mod:`analysis.modes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .probe_records import ProbeSamples
from .seeding import derive_seed

__all__ = ["DEFAULT_PROBE_SAMPLES", "ProbeSampler", "probe_states_of"]

DEFAULT_PROBE_SAMPLES = 256
"""Actions drawn per probe state and evaluation point."""


def probe_states_of(env: Any) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """The ``(name, observation)`` probe states an env declares (empty if none), validated."""
    states = tuple((str(n), tuple(float(x) for x in o)) for n, o in getattr(env, "probe_states", ()) or ())
    obs_dim = env.spec.obs_dim
    for name, obs in states:
        if len(obs) != obs_dim:
            raise ValueError(f"probe state {name!r} has {len(obs)} values, the env's observations have {obs_dim}")
    if len({n for n, _ in states}) != len(states):
        raise ValueError(f"probe state names must be unique, got {[n for n, _ in states]}")
    return states


@dataclass(frozen=True)
class ProbeSampler:
    """Samples the stochastic policy at fixed probe states (see module docstring)."""

    states: tuple[tuple[str, tuple[float, ...]], ...]
    seed: int
    """The run's eval seed; the probe stream is derived from it under the name ``"probes"``."""
    device: str
    samples: int = DEFAULT_PROBE_SAMPLES
    decimals: int = 4
    """Actions are rounded for storage (1e-4 is far below any mode width)."""

    @torch.no_grad()
    def __call__(self, agent: Any) -> tuple[ProbeSamples, ...]:
        if not self.states:
            return ()
        dev = torch.device(self.device)
        g = torch.Generator(device=dev)
        g.manual_seed(derive_seed(self.seed, "probes"))
        obs = torch.tensor([o for _, o in self.states], dtype=torch.float32, device=dev)
        batch = obs.repeat_interleave(self.samples, dim=0)  # [P*M, obs_dim], probe-major
        action = agent.eval_act(batch, "stochastic", g)
        action = torch.round(action.float() * 10**self.decimals) / 10**self.decimals
        per_probe = action.reshape(len(self.states), self.samples, -1).cpu().tolist()
        return tuple(ProbeSamples(name, o, tuple(tuple(a) for a in acts))
                     for (name, o), acts in zip(self.states, per_probe))
