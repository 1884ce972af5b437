"""Wall-clock of registered algorithms vs a baseline (Gaussian PPO by default), same task, env count
and process: seconds per 1,000 env steps of training (act + env.step + observe + every update due),
with the rollout and update parts apart.

The agents alternate in chunks (baseline, algo1, algo2, baseline, ...) after a warm-up chunk each, so
machine load affects all alike; ratios of medians are reported. A chunk is one rollout of an
on-policy agent's ``num_steps`` vector steps plus its update (``--chunk`` vector steps for off-policy
agents, default 32, with every update that falls due). Configs are the registry's resolved ones for
the task (tuned presets included) plus ``--set`` overrides; every agent uses the same env count.
``--same-num-steps`` forces every on-policy agent's rollout length to the baseline's, so an iteration
collects the same env steps for all (the former fpo_vs_ppo / genpo_dppo_vs_ppo benches did this).
Replaces the former per-algorithm scripts (cppo/dacer/qvpo/dipo/fpo/genpo_dppo_vs_ppo.py, in git history).

    python bench/algo_vs_ppo.py --algo cppo --task toy/MultiGoal --repeats 7 --threads 1
    python bench/algo_vs_ppo.py --algo dacer --task playground/CartpoleBalance --repeats 3 --set num_envs=16
    python bench/algo_vs_ppo.py --algo fpo,cppo --task playground/CartpoleBalance --same-num-steps --repeats 5
    python bench/algo_vs_ppo.py --algo genpo,dppo --same-num-steps --set dppo:denoising_steps=20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from typing import Any

import torch

from harness.agent import interact
from harness.config import ConfigError, parse_assignments, resolve_config
from harness.registry import RegistryError, get_algorithm, get_task
from harness.seeding import RunSeeds


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}
"""``--clock``: wall-clock, or the process's CPU time (all its threads: torch's and the simulator's),
which a loaded machine inflates much less (time spent waiting for a core is not counted)."""


@dataclasses.dataclass(frozen=True)
class ChunkTime:
    """One timed chunk: total and update seconds, updates done."""

    seconds: float
    update_seconds: float
    updates: int


def _chunk(agent: Any, env: Any, obs: torch.Tensor, steps: int,
           clock: Any = time.perf_counter) -> tuple[ChunkTime, torch.Tensor]:
    """``steps`` vector steps with every update that falls due; returns the timing and the next obs."""
    t0 = clock()
    updates, in_update = 0, 0.0
    for _ in range(steps):
        obs = interact(agent, env, obs).carry_obs
        if agent.ready():
            u0 = clock()
            agent.update()
            in_update += clock() - u0
            updates += 1
    return ChunkTime(clock() - t0, in_update, updates), obs


def _split_overrides(items: list[str], algos: list[str]) -> dict[str, list[str]]:
    """``--set`` items per algorithm: ``algo:key=value``, or ``key=value`` when one algorithm is timed."""
    per: dict[str, list[str]] = {a: [] for a in algos}
    for item in items:
        head, sep, rest = item.partition(":")
        if sep and head in per and "=" in rest:
            per[head].append(rest)
        elif len(algos) == 1:
            per[algos[0]].append(item)
        else:
            raise ConfigError(f"--set {item!r}: with several algorithms write ALGO:key=value, ALGO one of {algos}")
    return per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", required=True, help="registered algorithm(s) to time, comma-separated")
    ap.add_argument("--baseline", default="ppo", help="registered algorithm to compare with (default ppo)")
    ap.add_argument("--task", default="toy/MultiGoal")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-envs", type=int, default=None, help="env count for all (default: the baseline's)")
    ap.add_argument("--chunk", type=int, default=32, help="vector steps per timed chunk of an off-policy agent")
    ap.add_argument("--same-num-steps", action="store_true",
                    help="force every on-policy agent's num_steps to the baseline's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall (default) or process CPU time (steadier on a shared machine)")
    ap.add_argument("--set", action="append", default=[],
                    help="config override, key=value (one --algo) or ALGO:key=value (repeatable)")
    args = ap.parse_args(argv)
    algos = [a for a in args.algo.split(",") if a]
    roles = ["baseline", *algos]
    try:
        if args.repeats < 1 or args.chunk < 1 or args.threads < 1:
            raise ConfigError("--repeats, --chunk and --threads must be >= 1")
        if len(set(algos)) != len(algos) or args.baseline in algos:
            raise ConfigError(f"--algo {args.algo!r}: each algorithm once, not the baseline {args.baseline!r}")
        task = get_task(args.task)
        specs = {"baseline": get_algorithm(args.baseline), **{a: get_algorithm(a) for a in algos}}
        per = _split_overrides(args.set, algos)
        cfgs = {"baseline": resolve_config(specs["baseline"], task),
                **{a: resolve_config(specs[a], task, parse_assignments(per[a])) for a in algos}}
    except (RegistryError, ConfigError) as e:
        print(f"algo_vs_ppo: error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    base_steps = getattr(cfgs["baseline"], "num_steps", None)
    if args.same_num_steps and base_steps:
        for r in algos:
            if specs[r].on_policy and getattr(cfgs[r], "num_steps", base_steps) != base_steps:
                cfgs[r] = dataclasses.replace(cfgs[r], num_steps=base_steps)
    n = args.num_envs or getattr(cfgs["baseline"], "num_envs", 0) or task.num_envs
    agents, envs, obs, steps = {}, {}, {}, {}
    for role in roles:
        spec, cfg = specs[role], cfgs[role]
        seeds = RunSeeds.derive(0, task.name, spec.name)
        envs[role] = task.factory(n, seeds.env, args.device)
        obs[role] = envs[role].reset()
        agents[role] = spec.factory(cfg, envs[role].spec, seeds, args.device)
        steps[role] = (getattr(cfg, "num_steps", None) if spec.on_policy else None) or args.chunk
        # warm-up: JIT, allocations, and off-policy warm-up phases until updates happen
        for _ in range(1000):
            t, obs[role] = _chunk(agents[role], envs[role], obs[role], steps[role])
            if t.updates:
                break
    total: dict[str, list[float]] = {r: [] for r in roles}
    update: dict[str, list[float]] = {r: [] for r in roles}
    for _ in range(args.repeats):
        for role in roles:
            t, obs[role] = _chunk(agents[role], envs[role], obs[role], steps[role], CLOCKS[args.clock])
            per_k = 1000.0 / (steps[role] * n * envs[role].spec.action_repeat)
            total[role].append(t.seconds * per_k)
            update[role].append(t.update_seconds * per_k)
    med = {r: statistics.median(v) for r, v in total.items()}
    med_u = {r: statistics.median(v) for r, v in update.items()}
    result: dict[str, Any] = {
        "task": task.name, "num_envs": n, "repeats": args.repeats, "threads": args.threads,
        "baseline": args.baseline, "overrides": args.set, "same_num_steps": args.same_num_steps, "clock": args.clock,
        "vector_steps_per_chunk": {specs[r].name: steps[r] for r in roles},
        "baseline_s_per_1k_env_steps": round(med["baseline"], 4),
    }
    for r in algos:
        base_u = med_u["baseline"] or float("nan")
        result[r] = {
            "s_per_1k_env_steps": round(med[r], 4),
            "update_s_per_1k_env_steps": round(med_u[r], 4),
            f"ratio_over_{args.baseline}": round(med[r] / med["baseline"], 3),
            f"rollout_ratio_over_{args.baseline}": round((med[r] - med_u[r]) / (med["baseline"] - med_u["baseline"]), 3),
            f"update_ratio_over_{args.baseline}": round(med_u[r] / base_u, 3),
        }
        # kept for scripts that read the single-algorithm key
        result[f"ratio_{r}_over_{args.baseline}"] = result[r][f"ratio_over_{args.baseline}"]
    print(json.dumps(result, indent=1))
    for e in envs.values():
        e.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
