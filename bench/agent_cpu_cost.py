"""Agent-only CPU seconds per on-policy iteration (no simulator): fake observations, the registry's
``playground_dmc`` presets, obs dim 5, 1 action, 64 envs x each preset's ``num_steps``; prints rollout
and update ``time.process_time`` seconds for 3 iterations and the time of one 5-env evaluation act.

    python bench/agent_cpu_cost.py [ppo genpo dppo cppo]
"""

from __future__ import annotations

import dataclasses
import sys
import time

import torch

from harness.agent import Transition
from harness.env import EnvSpec
from harness.registry import get_algorithm
from harness.seeding import RunSeeds


def measure(name: str, spec: EnvSpec, iterations: int = 3) -> tuple[list[tuple[float, float]], float]:
    """``([(rollout_s, update_s)] per iteration, seconds per deterministic act on 5 observations)``."""
    a = get_algorithm(name)
    cfg = dataclasses.replace(a.config_cls(), **a.tuned["preset:playground_dmc"])
    agent = a.factory(cfg, spec, RunSeeds.derive(0, "bench", name), "cpu")
    g = torch.Generator().manual_seed(0)
    n, d = spec.num_envs, spec.obs_dim
    times = []
    for _ in range(iterations):
        t0 = time.process_time()
        while not agent.ready():
            obs = torch.randn(n, d, generator=g)
            act, ex = agent.act(obs)
            z = torch.zeros(n, dtype=torch.bool)
            agent.observe(Transition(obs, act, torch.randn(n, generator=g), obs, obs, z, z, True, ex))
        t1 = time.process_time()
        agent.update()
        times.append((t1 - t0, time.process_time() - t1))
    t0 = time.process_time()
    for _ in range(100):
        agent.eval_act(obs[:5], "deterministic", torch.Generator())
    return times, (time.process_time() - t0) / 100


def main() -> None:
    torch.set_num_threads(1)
    spec = EnvSpec(5, 1, 64, 1000, 0.01, "cpu")
    for name in sys.argv[1:] or ["ppo", "genpo", "dppo", "cppo"]:
        times, act = measure(name, spec)
        print(name, "rollout/update cpu-s per iteration", [(round(r, 3), round(u, 3)) for r, u in times],
              "| eval act", round(act * 1000, 2), "ms", flush=True)


if __name__ == "__main__":
    main()
