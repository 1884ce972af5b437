"""Benchmark (not a test): our PPO vs Brax PPO on playground/CartpoleBalance, side by side in one run.

``--config brax_dmc`` (default, issue 18): both trainers run Playground's DM Control PPO config
(mujoco_playground 0.2.0 ``dm_control_suite_params.brax_ppo_config``; ours: the ``brax_dmc`` preset),
scaled down for the CPU the same way for both: ``--num-envs`` instead of 2048 and Brax's
``batch_size`` = num_envs / 2, so the structure stays Brax's (16 unrolls of 30 steps per env per update,
32 minibatches, 16 epochs = 512 gradient steps per update; every env reset after each update, as
Brax's trainer does with num_resets_per_eval 10 and one update per epoch). Prints env-steps/s of
training including updates (ours: train clock; Brax: its ``training/sps`` per update) and the
evaluation return after every update, i.e. at equal env steps.

``--config cpu_shape`` (issue 2): the earlier comparison at a CPU-sized rsl_rl shape (64 envs x 32
steps, 5 epochs x 4 minibatches), plus raw Playground and adapter env-steps/s.

Needs jax < 0.10 for Brax's trainer (brax 0.14.2 calls ``jax.device_put_replicated``, removed in
jax 0.10): run it in an env with ``jax==0.9.2`` (see bench/README.md). Usage::

    python bench/ppo_vs_brax.py --config brax_dmc --num-envs 64 --updates 6 --out bench/out
    python bench/ppo_vs_brax.py --config cpu_shape --env-steps 400000 --out bench/out
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


# -- issue 18: both trainers at Playground's DM Control config, scaled down alike ----------------------
UNROLLS_PER_ENV = 16
"""Brax DMC: batch_size 1024 x num_minibatches 32 / num_envs 2048 unrolls of 30 steps per env per update."""


def brax_dmc_shape(num_envs: int) -> dict:
    """Brax's DM Control PPO arguments with ``num_envs`` envs and the same per-env structure."""
    from mujoco_playground.config import dm_control_suite_params as dmc

    rl = dmc.brax_ppo_config(TASK)
    batch_size = num_envs * UNROLLS_PER_ENV // rl.num_minibatches
    assert batch_size * rl.num_minibatches == num_envs * UNROLLS_PER_ENV, "num_envs must be a multiple of 2"
    return {**rl.to_dict(), "num_envs": num_envs, "batch_size": batch_size}


def ours_dmc(updates: int, num_envs: int, eval_episodes: int, out: Path, seed: int) -> dict:
    import shutil

    from harness import records
    from harness.runner import RunSpec, run

    per_update = num_envs * UNROLLS_PER_ENV * 30
    d = out / "ours_brax_dmc"
    shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    r = run(RunSpec(algo="ppo", task=f"playground/{TASK}", seed=seed, out=str(d), env_steps=updates * per_update,
                    eval_every=per_update, eval_episodes=eval_episodes, num_envs=num_envs, progress_every=60,
                    overrides={"preset": "brax_dmc", "num_envs": num_envs}))
    wall = time.perf_counter() - t
    rows = records.read_eval_rows(r.path)
    m = records.read_manifest(r.path)
    per = [b["train_seconds"] - a["train_seconds"] for a, b in zip(rows, rows[1:])]
    return {
        "wall_seconds": round(wall, 1), "train_seconds": m["clocks"]["train_seconds"],
        "env_steps_per_second_all_updates": m["env_steps_per_second"],
        "env_steps_per_second_per_update": [round(per_update / x) for x in per],
        "curve_deterministic": [(row["env_steps"], round(row["return_mean"], 1)) for row in rows],
        "curve_stochastic": [(row["env_steps"], round(row["stochastic_return_mean"], 1)) for row in rows],
        "updates": m["updates"], "config_hash": m["config_hash"],
    }


def brax_dmc(updates: int, num_envs: int, eval_episodes: int, seed: int) -> dict:
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import registry, wrapper

    shape = brax_dmc_shape(num_envs)
    env = registry.load(TASK, config_overrides={"impl": "jax"})
    eval_env = registry.load(TASK, config_overrides={"impl": "jax"})
    per_update = shape["batch_size"] * shape["unroll_length"] * shape["num_minibatches"]
    curve: list[tuple[int, float]] = []
    sps: list[float] = []
    t0 = time.perf_counter()

    def progress(step, metrics):
        curve.append((int(step), round(float(metrics["eval/episode_reward"]), 1)))
        if "training/sps" in metrics:
            sps.append(float(metrics["training/sps"]))

    # One update per eval epoch and a reset after it (num_resets_per_eval 1): Brax's DMC config resets
    # every env after every update too (10 resets per eval, one update per epoch).
    kwargs = {k: shape[k] for k in ("episode_length", "action_repeat", "unroll_length", "num_minibatches",
                                    "num_updates_per_batch", "discounting", "learning_rate", "entropy_cost",
                                    "num_envs", "batch_size", "reward_scaling", "normalize_observations")}
    ppo.train(
        environment=env, eval_env=eval_env, wrap_env_fn=wrapper.wrap_for_brax_training,
        num_timesteps=updates * per_update, num_evals=updates + 1, num_resets_per_eval=1,
        num_eval_envs=eval_episodes, seed=seed, progress_fn=progress, **kwargs,
    )
    wall = time.perf_counter() - t0
    return {"wall_seconds_incl_jit_and_evals": round(wall, 1), "env_steps_per_second_per_update": [round(x) for x in sps],
            "curve_stochastic": curve, "shape": {k: shape[k] for k in ("num_envs", "batch_size", "unroll_length",
                                                                      "num_minibatches", "num_updates_per_batch")}}


def _median(xs: list[float]) -> float:
    ys = sorted(xs)
    return ys[len(ys) // 2] if len(ys) % 2 else 0.5 * (ys[len(ys) // 2 - 1] + ys[len(ys) // 2])


def main_brax_dmc(args) -> dict:
    out = Path(args.out)
    res: dict = {"task": f"playground/{TASK}", "config": "brax_dmc", "num_envs": args.num_envs,
                 "updates": args.updates, "env_steps_per_update": args.num_envs * UNROLLS_PER_ENV * 30,
                 "cpu_count": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads()}
    order = ("brax", "ours") if args.brax_first else ("ours", "brax")
    for who in order:
        if who == "ours":
            res["ours"] = ours_dmc(args.updates, args.num_envs, args.eval_episodes, out, args.seed)
        elif not args.skip_brax:
            res["brax"] = brax_dmc(args.updates, args.num_envs, args.eval_episodes, args.seed)
        print(who, json.dumps(res.get(who)), flush=True)
    if "brax" in res:
        # steady state: every update but the first (Brax's first includes its JIT; ours has none, kept in)
        o = _median(res["ours"]["env_steps_per_second_per_update"][1:] or res["ours"]["env_steps_per_second_per_update"])
        b = _median(res["brax"]["env_steps_per_second_per_update"][1:] or res["brax"]["env_steps_per_second_per_update"])
        res["median_env_steps_per_second"] = {"ours": round(o), "brax": round(b), "ratio_ours_over_brax": round(o / b, 3)}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("brax_dmc", "cpu_shape"), default="brax_dmc")
    ap.add_argument("--env-steps", type=int, default=600_000, help="cpu_shape: budget")
    ap.add_argument("--updates", type=int, default=6, help="brax_dmc: PPO updates for each trainer")
    ap.add_argument("--eval-episodes", type=int, default=16, help="brax_dmc: episodes per evaluation (both)")
    ap.add_argument("--brax-first", action="store_true", help="brax_dmc: run Brax before ours")
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--skip-brax", action="store_true")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads, and single-threaded XLA when 1 (default 1: on a shared CPU two torch "
                         "threads waiting on each other made a gradient step 13x slower)")
    args = ap.parse_args()
    if args.threads == 1:  # before jax is imported
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.config == "brax_dmc":
        res = main_brax_dmc(args)
        (out / "ppo_vs_brax_dmc.json").write_text(json.dumps(res, indent=2))
        print(json.dumps(res, indent=2))
        return 0
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
