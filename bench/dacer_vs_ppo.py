"""Wall-clock per 1,000 env steps of DACER vs Gaussian PPO on the same task and env count, in one process.

Both agents are driven by the runner's per-step protocol (act -> env.step -> observe -> update when
ready) on their own env instance. DACER is timed after its warm-up (learning phase: one chain for
acting plus ``updates_per_step`` gradient steps per vector step); PPO over whole rollouts +
updates. Rounds alternate PPO / DACER so both see the same machine load; the median round is
reported. Example (CPU, 2 contended cores: absolute numbers are inflated, the ratio is what counts)::

    python bench/dacer_vs_ppo.py --task toy/MultiGoal --num-envs 20 --env-steps 4000 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from harness.agent import interact
from harness.config import parse_assignments, resolve_config
from harness.registry import get_algorithm, get_task
from harness.runner import resolve_device
from harness.seeding import RunSeeds


def make(algo: str, task, num_envs: int, device: str, overrides: dict[str, str]):
    spec = get_algorithm(algo)
    cfg = resolve_config(spec, task, {**overrides, "num_envs": num_envs})
    env = task.factory(num_envs, 0, device)
    agent = spec.factory(cfg, env.spec, RunSeeds.derive(0, task.name, algo), device)
    return cfg, env, agent


def drive(env, agent, obs: torch.Tensor, env_steps: int) -> tuple[torch.Tensor, int, int]:
    """Run ``env_steps`` env steps of the training loop; returns (obs, env steps done, gradient steps)."""
    per_step = env.spec.num_envs * env.spec.action_repeat
    done_steps, grads = 0, 0
    while done_steps < env_steps:
        obs = interact(agent, env, obs).carry_obs
        done_steps += per_step
        if agent.ready():
            grads += int(agent.update().get("gradient_steps", 1))
    return obs, done_steps, grads


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="toy/MultiGoal")
    p.add_argument("--num-envs", type=int, default=20)
    p.add_argument("--env-steps", type=int, default=4000, help="env steps timed per round and algorithm")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dacer-set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--ppo-set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    task = get_task(args.task)

    dacer_over = {"warmup_steps": 0, **parse_assignments(args.dacer_set)}
    runs = {"ppo": make("ppo", task, args.num_envs, device, parse_assignments(args.ppo_set)),
            "dacer": make("dacer", task, args.num_envs, device, dacer_over)}
    obs = {k: env.reset() for k, (_, env, _) in runs.items()}
    # Warm-up (JIT, allocator, DACER's first batch): one PPO rollout's worth of steps each.
    ppo_cfg = runs["ppo"][0]
    warm = ppo_cfg.num_steps * args.num_envs
    for k, (_, env, agent) in runs.items():
        obs[k], _, _ = drive(env, agent, obs[k], max(warm, runs["dacer"][0].batch_size))
    per_k: dict[str, list[float]] = {"ppo": [], "dacer": []}
    grads: dict[str, int] = {"ppo": 0, "dacer": 0}
    # PPO is timed over whole rollouts so every round contains its updates.
    ppo_steps = max(1, round(args.env_steps / warm)) * warm
    for _ in range(args.rounds):
        for k, (_, env, agent) in runs.items():
            sync(device)
            t0 = time.perf_counter()
            obs[k], n, g = drive(env, agent, obs[k], ppo_steps if k == "ppo" else args.env_steps)
            sync(device)
            per_k[k].append((time.perf_counter() - t0) / n * 1000.0)
            grads[k] += g
    result = {
        "task": args.task, "num_envs": args.num_envs, "device": device, "threads": args.threads,
        "seconds_per_1k_env_steps": {k: statistics.median(v) for k, v in per_k.items()},
        "rounds": per_k,
        "dacer_gradient_steps_per_vector_step": runs["dacer"][0].updates_per_step,
        "dacer_batch_size": runs["dacer"][0].batch_size,
        "gradient_steps_timed": grads,
    }
    s = result["seconds_per_1k_env_steps"]
    result["ratio_dacer_over_ppo"] = s["dacer"] / s["ppo"]
    for _, env, _ in runs.values():
        env.close()
    print(json.dumps(result, indent=2))
    print(f"DACER {s['dacer']:.3f} s / 1k env steps, PPO {s['ppo']:.3f} s / 1k env steps: "
          f"DACER is {result['ratio_dacer_over_ppo']:.1f}x slower ({args.task}, {args.num_envs} envs, {device})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
