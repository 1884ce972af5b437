"""Benchmark (not a test): our PPO vs Brax PPO on playground/CartpoleBalance, side by side in one run.

Prints, on the same task and env count:
1. raw Playground env-steps/s (jitted ``lax.scan`` of random actions: the simulator's ceiling);
2. our adapter's env-steps/s with random actions (one jitted step per Python call, as the runner drives it);
3. our PPO training env-steps/s, and training seconds to the first evaluation >= 900;
4. Brax PPO (the trainer from the ``brax`` package Playground installs) vs our PPO at the same
   env-step budget and the same CPU-sized PPO shape (64 envs x 32 steps, 5 epochs x 4 minibatches
   of 512): wall time and final deterministic return.

Needs jax < 0.10 for Brax's trainer (brax 0.14.2 calls ``jax.device_put_replicated``, removed in
jax 0.10): run it in an env with ``jax==0.9.2`` (see bench/README.md). Usage::

    python bench/ppo_vs_brax.py --env-steps 600000 --out bench/out
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TASK = "CartpoleBalance"


def raw_playground_sps(num_envs: int, steps: int = 200) -> float:
    import jax
    from mujoco_playground import registry, wrapper

    env = registry.load(TASK, config_overrides={"impl": "jax"})
    env = wrapper.wrap_for_brax_training(env, episode_length=1000, action_repeat=1)
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    state = jax.jit(env.reset)(keys)

    @jax.jit
    def roll(state, key):
        def body(carry, k):
            s = carry
            a = jax.random.uniform(k, (num_envs, env.action_size), minval=-1, maxval=1)
            return env.step(s, a), None

        s, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
        return s

    jax.block_until_ready(roll(state, jax.random.PRNGKey(1)))
    best = 0.0
    for i in range(3):
        t = time.perf_counter()
        jax.block_until_ready(roll(state, jax.random.PRNGKey(2 + i)))
        best = max(best, num_envs * steps / (time.perf_counter() - t))
    return best


def adapter_sps(num_envs: int, steps: int = 2000) -> float:
    import torch

    from harness.registry import get_task

    env = get_task(f"playground/{TASK}").factory(num_envs, 0, "cpu")
    env.reset()
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        env.step(torch.rand(num_envs, env.spec.action_dim, generator=g) * 2 - 1)
    t = time.perf_counter()
    for _ in range(steps):
        env.step(torch.rand(num_envs, env.spec.action_dim, generator=g) * 2 - 1)
    return num_envs * steps / (time.perf_counter() - t)


def ours(env_steps: int, num_envs: int, out: Path, seed: int) -> dict:
    import shutil

    from harness import records
    from harness.runner import RunSpec, run

    d = out / "ours"
    shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    r = run(RunSpec(algo="ppo", task=f"playground/{TASK}", seed=seed, out=str(d), env_steps=env_steps,
                    eval_every=max(env_steps // 10, 1), num_envs=num_envs, progress_every=30))
    wall = time.perf_counter() - t
    rows = records.read_eval_rows(r.path)
    m = records.read_manifest(r.path)
    hit = next((row for row in rows if row["return_mean"] >= 900), None)
    return {
        "wall_seconds": round(wall, 1),
        "train_seconds": m["clocks"]["train_seconds"],
        "train_env_steps_per_second": m["env_steps_per_second"],
        "final_return": round(rows[-1]["return_mean"], 1),
        "train_seconds_to_900": None if hit is None else hit["train_seconds"],
        "env_steps_to_900": None if hit is None else hit["env_steps"],
        "curve": [(row["env_steps"], round(row["return_mean"], 1)) for row in rows],
    }


def brax(env_steps: int, num_envs: int, seed: int) -> dict:
    import functools

    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import registry, wrapper

    env = registry.load(TASK, config_overrides={"impl": "jax"})
    eval_env = registry.load(TASK, config_overrides={"impl": "jax"})
    curve: list[tuple[int, float]] = []
    times: list[float] = []
    t0 = time.perf_counter()

    def progress(step, metrics):
        times.append(time.perf_counter() - t0)
        curve.append((int(step), round(float(metrics["eval/episode_reward"]), 1)))

    # Same CPU-sized PPO shape as ours: 64 envs x 32 steps per iteration, 5 epochs x 4 minibatches
    # of 16 trajectories x 32 steps = 512 samples; Playground's DMC settings otherwise
    # (obs normalisation, lr 1e-3, gamma 0.99 to match ours, entropy 1e-2 as Playground).
    network_factory = functools.partial(ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=(128, 128),
                                        value_hidden_layer_sizes=(256, 256))
    make_inference, params, metrics = ppo.train(
        environment=env, eval_env=eval_env, wrap_env_fn=wrapper.wrap_for_brax_training,
        num_timesteps=env_steps, num_evals=11, episode_length=1000, action_repeat=1,
        num_envs=num_envs, batch_size=num_envs // 4, num_minibatches=4, unroll_length=32,
        num_updates_per_batch=5, normalize_observations=True, reward_scaling=1.0, discounting=0.99,
        learning_rate=1e-3, entropy_cost=1e-2, num_eval_envs=10, seed=seed, progress_fn=progress,
        network_factory=network_factory,
    )
    wall = time.perf_counter() - t0
    hit = next((t for (s, r), t in zip(curve, times) if r >= 900), None)
    return {"wall_seconds": round(wall, 1), "final_return": curve[-1][1] if curve else None,
            "wall_seconds_to_900_incl_jit_and_evals": None if hit is None else round(hit, 1), "curve": curve}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env-steps", type=int, default=600_000)
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--skip-brax", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"task": f"playground/{TASK}", "num_envs": args.num_envs, "env_steps": args.env_steps,
                 "cpu_count": os.cpu_count()}
    res["raw_playground_env_steps_per_s"] = round(raw_playground_sps(args.num_envs))
    print("raw playground env-steps/s:", res["raw_playground_env_steps_per_s"], flush=True)
    res["adapter_env_steps_per_s"] = round(adapter_sps(args.num_envs))
    print("adapter env-steps/s (random actions):", res["adapter_env_steps_per_s"], flush=True)
    res["ours"] = ours(args.env_steps, args.num_envs, out, args.seed)
    print("ours:", json.dumps({k: v for k, v in res["ours"].items() if k != "curve"}), flush=True)
    if not args.skip_brax:
        res["brax"] = brax(args.env_steps, args.num_envs, args.seed)
        print("brax:", json.dumps({k: v for k, v in res["brax"].items() if k != "curve"}), flush=True)
    (out / "ppo_vs_brax.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
