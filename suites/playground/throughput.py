"""Throughput of the Playground adapter against raw jitted Playground stepping.

Run: ``python -m suites.playground.throughput [--task CartpoleBalance] [--num-envs 64] [--steps 2000]``

Prints env-steps/s (transitions summed over the batch) of

* ``raw loop``: a Python loop of one jitted ``vmap(env.step)`` per step, JAX actions, no reset,
  no torch (the floor any per-step adapter has to pay);
* ``raw scan``: the same steps inside one jitted ``lax.scan`` (no per-step dispatch at all);
* ``adapter``: ``PlaygroundVecEnv.step`` in a Python loop with torch actions (conversion,
  auto-reset, time limit, final_obs included);

and the cost of one batched fresh reset, i.e. what the adapter's per-episode fresh reset adds
(once per ``episode_length`` steps) over restarting from a cached first state. Actions are drawn
up front (uniform in [-1, 1]) so action sampling is not timed.
"""

from __future__ import annotations

import argparse
import time


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(task: str = "CartpoleBalance", num_envs: int = 64, steps: int = 2000, repeats: int = 3) -> dict:
    """Measure raw and adapter env-steps/s on ``task``; returns a dict of the numbers."""
    import torch

    from .adapter import PlaygroundVecEnv

    out: dict = {"task": task, "num_envs": num_envs, "steps": steps}
    t0 = time.perf_counter()
    env = PlaygroundVecEnv(task, num_envs, seed=0)
    out["construct_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    env.compile()
    out["compile_s"] = time.perf_counter() - t0

    jax = env._jax
    jnp = jax.numpy
    A = env.spec.action_dim
    bank = 16
    g = torch.Generator().manual_seed(0)
    t_actions = [torch.rand(num_envs, A, generator=g) * 2 - 1 for _ in range(bank)]
    j_actions = [jax.device_put(a.numpy()) for a in t_actions]

    # adapter
    env.reset()

    def run_adapter():
        for i in range(steps):
            env.step(t_actions[i % bank])

    run_adapter()  # warm-up
    out["adapter_sps"] = num_envs * steps / _best(run_adapter, repeats)

    # raw loop: one jitted vmapped env.step per step
    raw_env = env._env
    v_step = jax.jit(jax.vmap(raw_env.step))
    v_reset = jax.jit(jax.vmap(raw_env.reset))
    keys = jax.random.split(jax.random.PRNGKey(0), num_envs)
    state0 = v_reset(keys)
    state = v_step(state0, j_actions[0])
    jax.block_until_ready(state)

    def run_raw():
        s = state0
        for i in range(steps):
            s = v_step(s, j_actions[i % bank])
        jax.block_until_ready(s)

    out["raw_loop_sps"] = num_envs * steps / _best(run_raw, repeats)

    # raw scan
    acts = jnp.stack(j_actions)

    @jax.jit
    def scan(s):
        def body(c, i):
            return raw_env_step(c, acts[i % bank]), None

        s, _ = jax.lax.scan(body, s, jnp.arange(steps))
        return s

    raw_env_step = jax.vmap(raw_env.step)
    jax.block_until_ready(scan(state0))
    out["raw_scan_sps"] = num_envs * steps / _best(lambda: jax.block_until_ready(scan(state0)), repeats)

    # a batched fresh reset (what the adapter pays once per episode)
    jax.block_until_ready(v_reset(keys))
    t_reset = _best(lambda: jax.block_until_ready(v_reset(keys)), 5 * repeats)
    out["fresh_reset_ms"] = 1e3 * t_reset
    out["step_ms_adapter"] = 1e3 * num_envs / out["adapter_sps"]
    out["fresh_reset_overhead_pct"] = 100 * t_reset / (env.episode_length * out["step_ms_adapter"] / 1e3)
    env.close()
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: print the measured numbers."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="CartpoleBalance")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    r = measure(a.task, a.num_envs, a.steps, a.repeats)
    for k, v in r.items():
        print(f"{k:28s} {v:,.3f}" if isinstance(v, float) else f"{k:28s} {v}")


if __name__ == "__main__":
    main()
