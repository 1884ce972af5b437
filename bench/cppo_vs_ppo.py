"""Wall-clock per training iteration of CPPO vs Gaussian PPO, same task, env count and process.

One iteration = one full rollout (``num_steps`` vector steps of act + env.step + observe) plus one
``update()``. The two agents alternate (PPO, CPPO, PPO, ...) after a warm-up iteration each, so
machine load affects both alike; the ratio of medians is reported. Configs are the registry's
resolved ones for the task (tuned presets included); both use the same ``num_steps`` and env count
(CPPO's is forced to PPO's if they differ).

    python bench/cppo_vs_ppo.py --task toy/MultiGoal --repeats 7 --threads 1
    python bench/cppo_vs_ppo.py --task playground/CartpoleBalance --repeats 5 --threads 1 --set flow_steps=16
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch

from harness.agent import interact
from harness.config import parse_assignments, resolve_config
from harness.registry import get_algorithm, get_task
from harness.seeding import RunSeeds


def _iteration(agent, env, obs):
    """One rollout + update; returns (seconds, rollout seconds, next obs)."""
    t0 = time.perf_counter()
    while not agent.ready():
        obs = interact(agent, env, obs).carry_obs
    t1 = time.perf_counter()
    agent.update()
    return time.perf_counter() - t0, t1 - t0, obs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="toy/MultiGoal")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-envs", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--set", action="append", help="CPPO config override key=value (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    ppo_spec, cppo_spec = get_algorithm("ppo"), get_algorithm("cppo")
    ppo_cfg = resolve_config(ppo_spec, task)
    cppo_cfg = resolve_config(cppo_spec, task, parse_assignments(args.set))
    if cppo_cfg.num_steps != ppo_cfg.num_steps:
        cppo_cfg = dataclasses.replace(cppo_cfg, num_steps=ppo_cfg.num_steps)
    n = args.num_envs or ppo_cfg.num_envs or task.num_envs
    agents, envs, obs = {}, {}, {}
    for name, spec, cfg in (("ppo", ppo_spec, ppo_cfg), ("cppo", cppo_spec, cppo_cfg)):
        seeds = RunSeeds.derive(0, task.name, name)
        envs[name] = task.factory(n, seeds.env, args.device)
        obs[name] = envs[name].reset()
        agents[name] = spec.factory(cfg, envs[name].spec, seeds, args.device)
        _, _, obs[name] = _iteration(agents[name], envs[name], obs[name])  # warm-up (JIT, allocations)
    times: dict[str, list[float]] = {"ppo": [], "cppo": []}
    rollout: dict[str, list[float]] = {"ppo": [], "cppo": []}
    for _ in range(args.repeats):
        for name in ("ppo", "cppo"):
            dt, dr, obs[name] = _iteration(agents[name], envs[name], obs[name])
            times[name].append(dt)
            rollout[name].append(dr)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "task": task.name, "num_envs": n, "num_steps": ppo_cfg.num_steps, "repeats": args.repeats,
        "threads": args.threads, "flow_steps": cppo_cfg.flow_steps, "cppo_overrides": args.set or [],
        "ppo_s_per_iter_median": round(med["ppo"], 4), "cppo_s_per_iter_median": round(med["cppo"], 4),
        "ppo_rollout_s_median": round(statistics.median(rollout["ppo"]), 4),
        "cppo_rollout_s_median": round(statistics.median(rollout["cppo"]), 4),
        "ratio_cppo_over_ppo": round(med["cppo"] / med["ppo"], 3),
    }
    print(json.dumps(result, indent=1))
    for e in envs.values():
        e.close()


if __name__ == "__main__":
    main()
