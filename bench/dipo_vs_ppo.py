"""Wall-clock per 1,000 env steps of DIPO vs Gaussian PPO, same task, same env count, one process.

Each algorithm drives the same loop as harness/runner.py (act under no_grad -> env.step -> observe
-> update when ready), first untimed until DIPO's warm-up is over and PPO has done an update, then
timed over ``--steps`` env steps. The two are measured back-to-back and alternated ``--repeats``
times (median reported), so machine contention hits both alike. DIPO's cost is dominated by its
``gradient_steps`` per vector step, each with a T-step chain for the TD targets and
``action_gradient_steps`` critic forward/backward passes; every env action costs T epsilon-net passes.

Example (CPU, the quick-sweep settings)::

    python bench/dipo_vs_ppo.py --task toy/MultiGoal --num-envs 4 --steps 2000 \
        --dipo diffusion_steps=10 hidden=64 batch_size=128 gradient_steps=1
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
from harness.seeding import RunSeeds


def _loop(agent, env, obs, n_vec_steps: int) -> tuple[torch.Tensor, int]:
    updates = 0
    for _ in range(n_vec_steps):
        obs = interact(agent, env, obs).carry_obs
        if agent.ready():
            m = agent.update()
            updates += int(m.get("gradient_steps", 1))
    return obs, updates


def measure(algo: str, task_name: str, num_envs: int, steps: int, overrides: dict, device: str, warm: int) -> dict:
    spec, task = get_algorithm(algo), get_task(task_name)
    cfg = resolve_config(spec, task, {**overrides, "num_envs": num_envs})
    env = task.factory(num_envs, 0, device)
    if hasattr(env, "compile"):
        env.compile()
    agent = spec.factory(cfg, env.spec, RunSeeds.derive(0, task_name, algo), device)
    per = num_envs * env.spec.action_repeat
    obs = env.reset()
    obs, _ = _loop(agent, env, obs, max(1, warm // per))  # warm-up / first update, untimed
    n = max(1, steps // per)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    obs, updates = _loop(agent, env, obs, n)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    env.close()
    return {"seconds_per_1000_env_steps": 1000.0 * dt / (n * per), "gradient_steps": updates, "env_steps": n * per}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="toy/MultiGoal")
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--steps", type=int, default=2000, help="timed env steps per measurement")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dipo", nargs="*", default=[], help="DIPO overrides key=value")
    p.add_argument("--ppo", nargs="*", default=[], help="PPO overrides key=value")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dipo_over = parse_assignments(a.dipo)
    dipo_cfg = resolve_config(get_algorithm("dipo"), get_task(a.task), {**dipo_over, "num_envs": a.num_envs})
    from baselines.dipo.config import resolved

    warm_dipo = resolved(dipo_cfg, a.num_envs).warmup_steps + a.num_envs
    ppo_cfg = resolve_config(get_algorithm("ppo"), get_task(a.task), parse_assignments(a.ppo))
    warm_ppo = ppo_cfg.num_steps * a.num_envs
    res: dict[str, list[dict]] = {"ppo": [], "dipo": []}
    for _ in range(a.repeats):
        res["ppo"].append(measure("ppo", a.task, a.num_envs, a.steps, parse_assignments(a.ppo), a.device, warm_ppo))
        res["dipo"].append(measure("dipo", a.task, a.num_envs, a.steps, dipo_over, a.device, warm_dipo))
    med = {k: statistics.median(r["seconds_per_1000_env_steps"] for r in v) for k, v in res.items()}
    out = {
        "task": a.task, "num_envs": a.num_envs, "device": a.device, "threads": a.threads,
        "dipo_overrides": dipo_over, "ppo_overrides": parse_assignments(a.ppo),
        "seconds_per_1000_env_steps": med, "ratio_dipo_over_ppo": med["dipo"] / med["ppo"], "runs": res,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
