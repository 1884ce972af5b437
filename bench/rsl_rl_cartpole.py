"""IsaacLab's own PPO reference: rsl_rl's OnPolicyRunner on the same kitless isaaclab/Cartpole (CPU).

Runs in the IsaacLab venv (rsl-rl-lib 5.5.1 comes with isaaclab 3.0). The env is built exactly as
dpbench builds it (``suites.isaaclab.kitless``: local assets, newton_mjwarp, ``compute_final_obs``),
wrapped in ``isaaclab_rl.rsl_rl.RslRlVecEnvWrapper`` and trained with isaaclab_tasks' own
``CartpoleDirectPPORunnerCfg`` (16 steps/env, [32, 32], lr 1e-3 adaptive, 5 x 4 minibatches,
entropy 0.005), ``init_at_random_ep_len=True``, for ``--iterations`` at ``--num-envs``. Prints, per
iteration, rsl_rl's "Mean reward" (mean return of the last 100 finished training episodes) and the
env steps, and writes them as JSON under ``--out``.

    .venv-isaaclab/bin/python bench/rsl_rl_cartpole.py --num-envs 256 --iterations 60 --seed 0
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="bench/out")
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    from suites.isaaclab.kitless import make_isaaclab_env

    env = make_isaaclab_env("Isaac-Cartpole-Direct", a.num_envs, a.seed, "cpu")
    from isaaclab.utils import to_dict
    from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper, handle_deprecated_rsl_rl_cfg
    from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry
    from rsl_rl.runners import OnPolicyRunner

    cfg = load_cfg_from_registry("Isaac-Cartpole-Direct", "rsl_rl_cfg_entry_point")
    cfg.seed, cfg.device, cfg.max_iterations = a.seed, "cpu", a.iterations
    cfg = handle_deprecated_rsl_rl_cfg(cfg, metadata.version("rsl-rl-lib"))
    wrapped = RslRlVecEnvWrapper(env, clip_actions=cfg.clip_actions)
    log_dir = tempfile.mkdtemp(prefix="rsl_rl_cartpole_")
    runner = OnPolicyRunner(wrapped, to_dict(cfg), log_dir=log_dir, device="cpu")
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s):
            buf.write(s)
            return sys.__stdout__.write(s)

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(Tee()):
        runner.learn(num_learning_iterations=a.iterations, init_at_random_ep_len=True)
    wall = time.perf_counter() - t0
    text = buf.getvalue()
    steps = [int(x) for x in re.findall(r"Total steps:\s+(\d+)", text)]
    rewards = [float(x) for x in re.findall(r"Mean reward:\s+(-?[\d.]+)", text)]
    res = {"task": "Isaac-Cartpole-Direct", "num_envs": a.num_envs, "iterations": a.iterations, "seed": a.seed,
           "num_steps_per_env": cfg.num_steps_per_env, "wall_seconds": round(wall, 1),
           "env_steps": steps, "mean_reward": rewards, "rsl_rl": metadata.version("rsl-rl-lib")}
    print(json.dumps({k: (v[-1] if isinstance(v, list) and v else v) for k, v in res.items()}))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rsl_rl_cartpole_{a.num_envs}_{a.iterations}_seed{a.seed}.json").write_text(json.dumps(res, indent=1))
    env.close()


if __name__ == "__main__":
    main()
