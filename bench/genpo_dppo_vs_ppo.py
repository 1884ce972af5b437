"""Wall-clock per training iteration of GenPO and DPPO vs Gaussian PPO, same task, env count and process.

One iteration = one full rollout (``num_steps`` vector steps of act + env.step + observe) plus one
``update()``. After one warm-up iteration each, the agents alternate (PPO, GenPO, DPPO, PPO, ...),
so machine load affects all alike; ratios of medians are reported, with the rollout and update parts
apart (GenPO: doubled action, inverse pass and compression samples in the update; DPPO: the K-step
chain at every env step and K denoiser passes per sample in the update). Configs are the registry's
resolved ones for the task (tuned presets included); every agent is forced to PPO's ``num_steps``.

    dpbench bench genpo_dppo_vs_ppo --task playground/CartpoleBalance --repeats 5 --threads 1
    dpbench bench genpo_dppo_vs_ppo --task playground/CartpoleBalance --repeats 5 --threads 1 --algos dppo --set dppo:denoising_steps=20 --set dppo:ft_denoising_steps=20
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
    ap.add_argument("--task", default="playground/CartpoleBalance")
    ap.add_argument("--algos", default="genpo,dppo", help="comma-separated algorithms compared with ppo")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-envs", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--set", action="append", default=[], help="override algo:key=value (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    names = ["ppo"] + [a for a in args.algos.split(",") if a and a != "ppo"]
    per_algo: dict[str, list[str]] = {n: [] for n in names}
    for item in args.set:
        algo, _, kv = item.partition(":")
        per_algo[algo].append(kv)
    cfgs = {n: resolve_config(get_algorithm(n), task, parse_assignments(per_algo[n])) for n in names}
    steps = cfgs["ppo"].num_steps
    cfgs = {n: c if c.num_steps == steps else dataclasses.replace(c, num_steps=steps) for n, c in cfgs.items()}
    n_envs = args.num_envs or cfgs["ppo"].num_envs or task.num_envs
    agents, envs, obs = {}, {}, {}
    for name in names:
        seeds = RunSeeds.derive(0, task.name, name)
        envs[name] = task.factory(n_envs, seeds.env, args.device)
        obs[name] = envs[name].reset()
        agents[name] = get_algorithm(name).factory(cfgs[name], envs[name].spec, seeds, args.device)
        _, _, obs[name] = _iteration(agents[name], envs[name], obs[name])  # warm-up (JIT, allocations)
    times: dict[str, list[float]] = {n: [] for n in names}
    rollout: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            dt, dr, obs[name] = _iteration(agents[name], envs[name], obs[name])
            times[name].append(dt)
            rollout[name].append(dr)
    med = {n: statistics.median(v) for n, v in times.items()}
    med_r = {n: statistics.median(v) for n, v in rollout.items()}
    result: dict = {"task": task.name, "num_envs": n_envs, "num_steps": steps, "repeats": args.repeats,
                    "threads": args.threads, "overrides": args.set}
    for name in names:
        result[name] = {"s_per_iter_median": round(med[name], 4), "rollout_s_median": round(med_r[name], 4),
                        "update_s_median": round(med[name] - med_r[name], 4)}
        if name != "ppo":
            result[name].update(
                ratio_over_ppo=round(med[name] / med["ppo"], 3),
                rollout_ratio_over_ppo=round(med_r[name] / med_r["ppo"], 3),
                update_ratio_over_ppo=round((med[name] - med_r[name]) / (med["ppo"] - med_r["ppo"]), 3),
            )
            for key in ("flow_steps", "mix_p", "denoising_steps", "ft_denoising_steps", "actor_hidden"):
                if hasattr(cfgs[name], key):
                    result[name][key] = getattr(cfgs[name], key)
    print(json.dumps(result, indent=1))
    for e in envs.values():
        e.close()


if __name__ == "__main__":
    main()
