"""Wall-clock per 1,000 env steps of QVPO vs Gaussian PPO on the same task and env count, in one run.

Each algorithm drives its own env instance with the runner's per-step protocol (act -> env.step ->
observe -> update when ready). QVPO is timed in its learning phase (``learning_starts = 0``, after an
untimed fill of the replay buffer): per vector step one best-of-``behavior_samples`` chain for acting
plus the gradient steps its config asks for (each: a best-of-``target_samples`` target chain, a
best-of-``train_samples`` candidate chain, critic and actor steps). PPO is timed over whole rollouts
including their updates. Rounds alternate PPO / QVPO so both see the same machine load; the median
round is reported. Config resolution is the runner's (task preset tables, then ``--*-set``).

Example (CPU, contended cores: absolute numbers are inflated, compare the ratio)::

    python bench/qvpo_vs_ppo.py --task toy/MultiGoal --num-envs 32 --env-steps 2048 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from harness.agent import interact
from harness.config import parse_assignments, resolve_config
from harness.registry import TaskSpec, get_algorithm, get_task
from harness.runner import resolve_device
from harness.seeding import RunSeeds


def build(algo: str, task: TaskSpec, num_envs: int, device: str, overrides: dict[str, Any]):
    spec = get_algorithm(algo)
    cfg = resolve_config(spec, task, {**overrides, "num_envs": num_envs})
    env = task.factory(num_envs, 0, device)
    agent = spec.factory(cfg, env.spec, RunSeeds.derive(0, task.name, algo), device)
    return cfg, env, agent


def run_steps(env: Any, agent: Any, obs: torch.Tensor, env_steps: int) -> tuple[torch.Tensor, int, int]:
    """``env_steps`` env steps of the training loop -> (last obs, env steps done, gradient steps)."""
    per_step = env.spec.num_envs * env.spec.action_repeat
    done, grads = 0, 0
    while done < env_steps:
        obs = interact(agent, env, obs).carry_obs
        done += per_step
        if agent.ready():
            grads += int(agent.update().get("gradient_steps", 1))
    return obs, done, grads


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="toy/MultiGoal")
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--env-steps", type=int, default=2048, help="env steps timed per round for QVPO")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--qvpo-set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--ppo-set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", help="also write the result to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    task = get_task(args.task)

    runs = {
        "ppo": build("ppo", task, args.num_envs, device, parse_assignments(args.ppo_set)),
        "qvpo": build("qvpo", task, args.num_envs, device, {**parse_assignments(args.qvpo_set), "learning_starts": 0}),
    }
    qcfg = runs["qvpo"][0]
    rollout = runs["ppo"][0].num_steps * args.num_envs
    obs = {k: env.reset() for k, (_, env, _) in runs.items()}
    # Untimed warm-up: JIT / allocator, one PPO rollout + update, a replay buffer with >= one batch.
    for k, (_, env, agent) in runs.items():
        obs[k], _, _ = run_steps(env, agent, obs[k], max(rollout, qcfg.batch_size))
    timed = {"ppo": max(1, round(args.env_steps / rollout)) * rollout, "qvpo": args.env_steps}
    secs: dict[str, list[float]] = {"ppo": [], "qvpo": []}
    grads = {"ppo": 0, "qvpo": 0}
    steps = {"ppo": 0, "qvpo": 0}
    for _ in range(args.rounds):
        for k, (_, env, agent) in runs.items():
            _sync(device)
            t0 = time.perf_counter()
            obs[k], n, g = run_steps(env, agent, obs[k], timed[k])
            _sync(device)
            secs[k].append((time.perf_counter() - t0) / n * 1000.0)
            grads[k] += g
            steps[k] += n
    med = {k: statistics.median(v) for k, v in secs.items()}
    vec_steps_q = steps["qvpo"] / (args.num_envs * runs["qvpo"][1].spec.action_repeat)
    result = {
        "task": args.task, "num_envs": args.num_envs, "device": device, "threads": args.threads,
        "seconds_per_1k_env_steps": med, "rounds": secs, "ratio_qvpo_over_ppo": med["qvpo"] / med["ppo"],
        "env_steps_timed": steps, "gradient_steps_timed": grads,
        "qvpo_grad_steps_per_vector_step": grads["qvpo"] / vec_steps_q,
        "qvpo": {k: getattr(qcfg, k) for k in ("batch_size", "train_samples", "behavior_samples", "target_samples",
                                                "n_timesteps", "actor_hidden", "critic_hidden", "activation",
                                                "updates_per_env_step", "updates_per_vector_step")},
    }
    for _, env, _ in runs.values():
        env.close()
    print(json.dumps(result, indent=2))
    print(f"QVPO {med['qvpo']:.3f} s / 1k env steps, PPO {med['ppo']:.3f} s / 1k env steps: QVPO is "
          f"{result['ratio_qvpo_over_ppo']:.1f}x slower ({args.task}, {args.num_envs} envs, {device}, "
          f"{args.threads} thread(s))")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
