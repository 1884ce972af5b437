"""Evaluation on a separate env with its own seed stream.

Every evaluation pass reseeds the eval env (``reseed``; an env without it is rebuilt) with the same
eval seed, so every evaluation point, every mode and every algorithm with the same root seed starts
from the same states. The agent acts through ``eval_act(obs, mode, generator)`` with a generator
seeded from the eval seed and the mode name, never from its training stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .agent import STANDARD_EVAL_MODES, Agent, eval_modes
from .env import VecEnv
from .seeding import derive_seed

__all__ = ["EpisodeStats", "run_episodes", "evaluate"]


@dataclass(frozen=True)
class EpisodeStats:
    """Per-episode results of one evaluation pass."""

    returns: list[float]
    outcomes: list[int]
    lengths: list[int]

    @property
    def mean(self) -> float:
        return sum(self.returns) / len(self.returns)

    @property
    def std(self) -> float:
        m = self.mean
        return math.sqrt(sum((r - m) ** 2 for r in self.returns) / len(self.returns))


@torch.no_grad()
def run_episodes(env: VecEnv, policy: Callable[[torch.Tensor], torch.Tensor], has_outcomes: bool) -> EpisodeStats:
    """Run every env of ``env`` until its first episode ends; one episode per env."""
    n = env.spec.num_envs
    dev = torch.device(env.spec.device)
    obs = env.reset()
    ret = torch.zeros(n, device=dev)
    length = torch.zeros(n, dtype=torch.long, device=dev)
    finished = torch.zeros(n, dtype=torch.bool, device=dev)
    outcome = torch.full((n,), -1, dtype=torch.long, device=dev)
    for _ in range(env.spec.episode_length + 1):
        action = policy(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        active = ~finished
        ret += torch.where(active, reward.float(), torch.zeros_like(ret))
        length += active.long()
        done = (terminated | truncated) & active
        if "outcome" in info:
            outcome = torch.where(done, info["outcome"].long(), outcome)
        finished |= done
        if bool(finished.all()):
            break
    return EpisodeStats(
        returns=[float(x) for x in ret.cpu()],
        outcomes=[int(x) for x in outcome.cpu()] if has_outcomes else [],
        lengths=[int(x) for x in length.cpu()],
    )


@dataclass
class Evaluator:
    """Owns the eval env; ``__call__(agent)`` returns the eval columns of one ``evals.csv`` row."""

    make_env: Callable[[int], VecEnv]
    """``make_env(seed) -> VecEnv`` with ``num_envs = eval_episodes``."""
    seed: int
    has_outcomes: bool
    _env: VecEnv | None = field(default=None, init=False)

    def _fresh_env(self) -> VecEnv:
        """The eval env, restarted from the eval seed: reseeded in place where the env can (no rebuild,
        no re-JIT), else rebuilt."""
        if self._env is not None and hasattr(self._env, "reseed"):
            self._env.reseed(self.seed)
            return self._env
        if self._env is not None:
            self._env.close()
        self._env = self.make_env(self.seed)
        return self._env

    def _episodes(self, agent: Agent, mode: str) -> EpisodeStats:
        """One pass of ``mode`` from the eval seed's start states, with the mode's own generator."""
        env = self._fresh_env()
        g = torch.Generator(device=torch.device(env.spec.device))
        g.manual_seed(derive_seed(self.seed, "policy", mode))
        return run_episodes(env, lambda o: agent.eval_act(o, mode, g), self.has_outcomes)

    def __call__(self, agent: Agent) -> dict[str, Any]:
        det, sto = (self._episodes(agent, mode) for mode in STANDARD_EVAL_MODES)
        extra: dict[str, Any] = {}
        for mode in eval_modes(agent):
            st = self._episodes(agent, mode)
            extra[mode] = {"return_mean": st.mean, "returns": st.returns, "outcomes": st.outcomes}
        return {
            "return_mean": det.mean,
            "return_std": det.std,
            "returns": det.returns,
            "outcomes": det.outcomes,
            "episode_length_mean": sum(det.lengths) / len(det.lengths),
            "stochastic_return_mean": sto.mean,
            "stochastic_return_std": sto.std,
            "stochastic_returns": sto.returns,
            "stochastic_outcomes": sto.outcomes,
            "extra": extra,
        }

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def evaluate(agent: Agent, make_env: Callable[[int], VecEnv], seed: int, has_outcomes: bool = False) -> dict[str, Any]:
    """One-shot evaluation (builds and closes its own env)."""
    ev = Evaluator(make_env, seed, has_outcomes)
    try:
        return ev(agent)
    finally:
        ev.close()
