"""The same 12-run toy sweep through ``--executor local --workers 2``, ``--executor ray`` (a Ray
head with 2 CPUs) and ``--executor slurm`` (a single-node Slurm with 2 CPUs), wall time side by side.

Each executor gets a fresh records root; its cluster is started before the clock starts and
stopped after it stops (start-up/shut-down times are printed separately). The per-run engine
overhead is ``(2 x sweep wall - sum of the runs' own wall seconds) / 12``: slot time not spent
inside ``harness.runner.train`` (process start, imports, scheduling, polling). Needs the
``cluster`` extra, ``slurm-wlm`` + ``munge`` and root for Slurm; an engine that cannot start is
reported and skipped.

    python bench/sweep_executors.py --out bench/out/executors [--env-steps 4000] [--only local,ray,slurm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness import records
from harness.executors.localcluster import ClusterUnavailable, RayHead, SlurmCluster

SPEC = """
name = "bench_executors"
seeds = {seeds}
algorithms = ["ppo"]
[tasks."toy/Target1D"]
env_steps = {env_steps}
eval_every = {eval_every}
eval_episodes = 4
num_envs = 8
"""


def _sweep(spec: Path, out: Path, extra: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "dpbench", "sweep", str(spec), "--out", str(out), "--no-figures",
                        *extra], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"sweep failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return wall, r.stdout


def _run_walls(out: Path) -> list[float]:
    return [float(records.read_manifest(d)["clocks"]["wall_seconds"]) for d in records.find_runs(out)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="bench/out/executors")
    p.add_argument("--runs", type=int, default=12)
    p.add_argument("--env-steps", type=int, default=4000)
    p.add_argument("--eval-every", type=int, default=2000)
    p.add_argument("--only", default="local,ray,slurm")
    a = p.parse_args()
    root = Path(a.out).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    spec = root / "spec.toml"
    spec.write_text(SPEC.format(seeds=list(range(a.runs)), env_steps=a.env_steps, eval_every=a.eval_every))
    results: dict[str, dict] = {}
    for engine in a.only.split(","):
        out = root / engine
        print(f"[bench] {engine} ...", flush=True)
        try:
            if engine == "local":
                wall, text = _sweep(spec, out, ["--workers", "2"])
                up = down = 0.0
            elif engine == "ray":
                t0 = time.perf_counter()
                with RayHead(num_cpus=2) as head:
                    up = time.perf_counter() - t0
                    wall, text = _sweep(spec, out, ["--executor", "ray", "--address", head.address])
                    t1 = time.perf_counter()
                down = time.perf_counter() - t1
            elif engine == "slurm":
                t0 = time.perf_counter()
                with SlurmCluster(cpus=2) as cluster:
                    up = time.perf_counter() - t0
                    wall, text = _sweep(spec, out, ["--executor", "slurm", "--time", "30"], env=cluster.env)
                    t1 = time.perf_counter()
                down = time.perf_counter() - t1
            else:
                raise SystemExit(f"unknown engine {engine!r}; allowed: local, ray, slurm")
        except ClusterUnavailable as e:
            print(f"[bench] {engine}: cannot start here: {e}", flush=True)
            continue
        walls = _run_walls(out)
        assert len(walls) == a.runs, (engine, len(walls))
        overhead = (2 * wall - sum(walls)) / a.runs
        results[engine] = {"sweep_wall_s": round(wall, 1), "runs": a.runs, "sum_run_wall_s": round(sum(walls), 1),
                           "overhead_per_run_s": round(overhead, 1), "cluster_up_s": round(up, 1),
                           "cluster_down_s": round(down, 1), "summary": text.strip().splitlines()[-1]}
        print(f"[bench] {engine}: {json.dumps(results[engine])}", flush=True)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    print("\n| executor | sweep wall (12 runs, 2 slots) | sum of run walls | engine overhead per run | cluster start / stop |")
    print("|---|---|---|---|---|")
    for k, r in results.items():
        print(f"| {k} | {r['sweep_wall_s']:.1f} s | {r['sum_run_wall_s']:.1f} s | {r['overhead_per_run_s']:.1f} s | "
              f"{r['cluster_up_s']:.1f} s / {r['cluster_down_s']:.1f} s |")
    (root / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
