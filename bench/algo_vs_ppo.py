"""Wall-clock of any registered algorithm vs a baseline (Gaussian PPO by default), same task, env count
and process: seconds per 1,000 env steps of training (act + env.step + observe + every update due).

The two agents alternate in chunks (baseline, algo, baseline, ...) after a warm-up chunk each, so
machine load affects both alike; the ratio of medians is reported. A chunk is one rollout of the
on-policy agent's ``num_steps`` vector steps plus its update (``--chunk`` vector steps for off-policy
agents, default 32, with every update that falls due). Configs are the registry's resolved ones for
the task (tuned presets included) plus ``--set`` overrides for the algorithm; both agents use the same
env count. Replaces the former per-algorithm scripts (cppo/dacer/qvpo/dipo_vs_ppo.py, in git history).

    python bench/algo_vs_ppo.py --algo cppo --task toy/MultiGoal --repeats 7 --threads 1
    python bench/algo_vs_ppo.py --algo dacer --task playground/CartpoleBalance --repeats 3 --set num_envs=16
"""

from __future__ import annotations

import argparse
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
_clock = time.perf_counter


def _chunk(agent: Any, env: Any, obs: torch.Tensor, steps: int) -> tuple[float, int, torch.Tensor]:
    """``steps`` vector steps with every update that falls due; returns (seconds, updates, next obs)."""
    t0 = _clock()
    updates = 0
    for _ in range(steps):
        obs = interact(agent, env, obs).carry_obs
        if agent.ready():
            agent.update()
            updates += 1
    return _clock() - t0, updates, obs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algo", required=True, help="registered algorithm to time")
    ap.add_argument("--baseline", default="ppo", help="registered algorithm to compare with (default ppo)")
    ap.add_argument("--task", default="toy/MultiGoal")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--num-envs", type=int, default=None, help="env count for both (default: the baseline's)")
    ap.add_argument("--chunk", type=int, default=32, help="vector steps per timed chunk of an off-policy agent")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="wall (default) or process CPU time (steadier on a shared machine)")
    ap.add_argument("--set", action="append", help="config override of --algo, key=value (repeatable)")
    args = ap.parse_args(argv)
    try:
        task = get_task(args.task)
        specs = {"baseline": get_algorithm(args.baseline), "algo": get_algorithm(args.algo)}
        cfgs = {"baseline": resolve_config(specs["baseline"], task),
                "algo": resolve_config(specs["algo"], task, parse_assignments(args.set))}
    except (RegistryError, ConfigError) as e:
        print(f"algo_vs_ppo: error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    global _clock
    _clock = CLOCKS[args.clock]
    n = args.num_envs or getattr(cfgs["baseline"], "num_envs", 0) or task.num_envs
    agents, envs, obs, steps = {}, {}, {}, {}
    for role in ("baseline", "algo"):
        spec, cfg = specs[role], cfgs[role]
        seeds = RunSeeds.derive(0, task.name, spec.name)
        envs[role] = task.factory(n, seeds.env, args.device)
        obs[role] = envs[role].reset()
        agents[role] = spec.factory(cfg, envs[role].spec, seeds, args.device)
        steps[role] = getattr(cfg, "num_steps", None) if spec.on_policy else args.chunk
        steps[role] = steps[role] or args.chunk
        # warm-up: JIT, allocations, and off-policy warm-up phases until updates happen
        for _ in range(1000):
            _, ups, obs[role] = _chunk(agents[role], envs[role], obs[role], steps[role])
            if ups:
                break
    per_k: dict[str, list[float]] = {"baseline": [], "algo": []}
    for _ in range(args.repeats):
        for role in ("baseline", "algo"):
            dt, _, obs[role] = _chunk(agents[role], envs[role], obs[role], steps[role])
            env_steps = steps[role] * n * envs[role].spec.action_repeat
            per_k[role].append(1000.0 * dt / env_steps)
    med = {k: statistics.median(v) for k, v in per_k.items()}
    print(json.dumps({
        "task": task.name, "num_envs": n, "repeats": args.repeats, "threads": args.threads,
        "algo": args.algo, "baseline": args.baseline, "algo_overrides": args.set or [], "clock": args.clock,
        "vector_steps_per_chunk": steps,
        "baseline_s_per_1k_env_steps": round(med["baseline"], 4), "algo_s_per_1k_env_steps": round(med["algo"], 4),
        f"ratio_{args.algo}_over_{args.baseline}": round(med["algo"] / med["baseline"], 3),
    }, indent=1))
    for e in envs.values():
        e.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
