"""Wall-clock per training iteration of FPO vs Gaussian PPO, and CPPO vs FPO: same task, env count,
rollout length and process.

One iteration = one full rollout (``num_steps`` vector steps of act + env.step + observe) plus one
``update()``. The agents alternate (PPO, FPO, CPPO, PPO, ...) after a warm-up iteration each, so
machine load affects all alike; ratios of medians are reported. Configs are the registry's resolved
ones for the task (tuned presets included: FPO keeps its 16 epochs and 8 MC pairs, CPPO its
distillation); FPO's and CPPO's ``num_steps`` are forced to PPO's so each iteration collects the
same env steps.

    python bench/fpo_vs_ppo.py --task toy/MultiGoal --repeats 7 --threads 1
    python bench/fpo_vs_ppo.py --task playground/CartpoleBalance --repeats 5 --threads 1
    python bench/fpo_vs_ppo.py --task toy/MultiGoal --algo fpo_plus
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
    ap.add_argument("--algo", default="fpo", help="the flow baseline: fpo or fpo_plus")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-envs", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--set", action="append", help="FPO config override key=value (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    names = ("ppo", args.algo, "cppo")
    specs = {k: get_algorithm(k) for k in names}
    cfgs = {k: resolve_config(specs[k], task, parse_assignments(args.set) if k == args.algo else None) for k in names}
    T = cfgs["ppo"].num_steps
    cfgs = {k: c if c.num_steps == T else dataclasses.replace(c, num_steps=T) for k, c in cfgs.items()}
    n = args.num_envs or cfgs["ppo"].num_envs or task.num_envs
    agents, envs, obs = {}, {}, {}
    for name in names:
        seeds = RunSeeds.derive(0, task.name, name)
        envs[name] = task.factory(n, seeds.env, args.device)
        obs[name] = envs[name].reset()
        agents[name] = specs[name].factory(cfgs[name], envs[name].spec, seeds, args.device)
        _, _, obs[name] = _iteration(agents[name], envs[name], obs[name])  # warm-up (JIT, allocations)
    times: dict[str, list[float]] = {k: [] for k in names}
    rollout: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(args.repeats):
        for name in names:
            dt, dr, obs[name] = _iteration(agents[name], envs[name], obs[name])
            times[name].append(dt)
            rollout[name].append(dr)
    med = {k: statistics.median(v) for k, v in times.items()}
    f = args.algo
    result = {
        "task": task.name, "num_envs": n, "num_steps": T, "repeats": args.repeats, "threads": args.threads,
        "fpo_algo": f, "fpo_epochs_x_minibatches": [cfgs[f].epochs, cfgs[f].minibatches],
        "fpo_n_mc": cfgs[f].n_mc, "fpo_flow_steps": cfgs[f].flow_steps, "cppo_flow_steps": cfgs["cppo"].flow_steps,
        "fpo_overrides": args.set or [],
        **{f"{k}_s_per_iter_median": round(med[k], 4) for k in names},
        **{f"{k}_rollout_s_median": round(statistics.median(rollout[k]), 4) for k in names},
        f"ratio_{f}_over_ppo": round(med[f] / med["ppo"], 3),
        f"ratio_cppo_over_{f}": round(med["cppo"] / med[f], 3),
    }
    print(json.dumps(result, indent=1))
    for e in envs.values():
        e.close()


if __name__ == "__main__":
    main()
