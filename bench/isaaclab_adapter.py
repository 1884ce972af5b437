"""Throughput of the IsaacLab adapter vs raw ``env.step`` on the same env (kitless, CPU or CUDA).

Runs in the IsaacLab venv. One process, one env (IsaacLab allows one per process): warm-up, then
``--steps`` raw ``env.step`` calls with random actions in the simulator's units, then ``--steps``
``IsaacLabVecEnv.step`` calls (our [-1, 1] actions, scaling, copies, final_obs), alternating the
two ``--repeats`` times; prints env-steps/s of each and the ratio, writes JSON under ``--out``.

    .venv-isaaclab/bin/python bench/isaaclab_adapter.py --task Isaac-Cartpole-Direct --num-envs 256
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="Isaac-Cartpole-Direct")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench/out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from suites.isaaclab.adapter import IsaacLabVecEnv

    t0 = time.perf_counter()
    env = IsaacLabVecEnv(a.task, a.num_envs, 0, a.device)
    create_s = time.perf_counter() - t0
    raw = env._env
    n, act = env.num_envs, env.spec.action_dim
    g = torch.Generator().manual_seed(0)
    env.reset()
    for _ in range(20):  # warm-up (first steps compile / load kernels)
        env.step(torch.rand(n, act, generator=g) * 2 - 1)
    raw_sps, ada_sps = [], []
    for _ in range(a.repeats):
        acts = [(torch.rand(n, act, generator=g) * 2 - 1).to(env.device) for _ in range(a.steps)]
        t = time.perf_counter()
        for x in acts:
            raw.step(x)
        raw_sps.append(n * a.steps / (time.perf_counter() - t))
        t = time.perf_counter()
        for x in acts:
            env.step(x)
        ada_sps.append(n * a.steps / (time.perf_counter() - t))
    env.close()
    res = {
        "task": a.task, "num_envs": n, "device": a.device, "steps": a.steps, "repeats": a.repeats,
        "threads": a.threads, "create_seconds": round(create_s, 2),
        "raw_env_steps_per_s": [round(x) for x in raw_sps], "adapter_env_steps_per_s": [round(x) for x in ada_sps],
        "ratio_median": round(sorted(y / x for x, y in zip(raw_sps, ada_sps))[len(raw_sps) // 2], 3),
    }
    print(json.dumps(res))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"isaaclab_adapter_{a.task}_{n}_{a.device}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
