"""Evaluation on a separate env with its own seed stream.

Every evaluation reseeds the eval env (or rebuilds it) with the same eval seed, so every evaluation
point and every algorithm with the same root seed starts from the same states. The agent samples
with a generator seeded from the eval seed, never from its training stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .agent import eval_modes

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
def run_episodes(env: Any, policy: Callable[[torch.Tensor], torch.Tensor], has_outcomes: bool) -> EpisodeStats:
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

    make_env: Callable[[int], Any]
    """``make_env(seed) -> VecEnv`` with ``num_envs = eval_episodes``."""
    seed: int
    has_outcomes: bool
    _env: Any = field(default=None, init=False)

    def _fresh_env(self) -> Any:
        if self._env is not None and hasattr(self._env, "reseed"):
            self._env.reseed(self.seed)
            return self._env
        if self._env is not None:
            self._env.close()
        self._env = self.make_env(self.seed)
        return self._env

    def _generator(self, name: str) -> torch.Generator:
        from .seeding import derive_seed

        dev = torch.device(self._env.spec.device) if self._env is not None else torch.device("cpu")
        g = torch.Generator(device=dev)
        g.manual_seed(derive_seed(self.seed, "policy", name))
        return g

    def __call__(self, agent: Any) -> dict[str, Any]:
        env = self._fresh_env()
        g = self._generator("deterministic")
        det = run_episodes(env, lambda o: agent.act(o, explore=False, generator=g)[0], self.has_outcomes)
        env = self._fresh_env()
        g = self._generator("stochastic")
        sto = run_episodes(env, lambda o: agent.act(o, explore=True, generator=g)[0], self.has_outcomes)
        extra: dict[str, Any] = {}
        for mode in eval_modes(agent):
            env = self._fresh_env()
            g = self._generator(mode)
            st = run_episodes(env, lambda o, m=mode, g=g: agent.eval_act(o, m, g), self.has_outcomes)
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


def evaluate(agent: Any, make_env: Callable[[int], Any], seed: int, has_outcomes: bool = False) -> dict[str, Any]:
    """One-shot evaluation (builds and closes its own env)."""
    ev = Evaluator(make_env, seed, has_outcomes)
    try:
        return ev(agent)
    finally:
        ev.close()
