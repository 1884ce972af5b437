"""Re-run stored runs with the current code and compare their ``evals.csv`` with the stored one.

    python scripts/check_reproduces.py RESULTS_DIR [--seeds 0] [--only ALGO/TASK ...] [--workers 2]

For every (algorithm label, task) pair under RESULTS_DIR and every selected seed, the run is trained
again in a temporary directory from what its manifest recorded (registry algorithm, the full resolved
config, budget, protocol), on the CPU, and every evaluation column is compared exactly, clock and
memory columns aside (``train_seconds``, ``eval_seconds``, ``compile_seconds``, ``peak_memory_mb``).
Prints one line per run and a summary; exits 1 if any run differs, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from harness import records
from harness.runner import RunSpec, prepare, train

CLOCK_COLUMNS = ("train_seconds", "eval_seconds", "compile_seconds", "peak_memory_mb")


def _spec_from_manifest(m: dict, out: str) -> RunSpec:
    """The run a manifest describes, writing under ``out``."""
    b = m["budget"]
    return RunSpec(
        algo=m["algo"], algorithm=m["algorithm"], task=m["task"], seed=int(m["seed"]), out=out,
        env_steps=b["env_steps"], eval_every=b["eval_every"], eval_episodes=b["eval_episodes"],
        num_envs=b["num_envs"], overrides=dict(m["config"]), device="cpu", progress_every=0,
        **RunSpec.protocol_from_manifest(m),
    )


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in CLOCK_COLUMNS} for r in rows]


def check_one(run_path: str) -> tuple[str, bool, str, float]:
    """Re-run one stored run; returns (label, identical, detail, seconds)."""
    stored = records.load_run(run_path)
    m = stored.manifest
    label = f"{m['algo']} | {m['task']} | seed {m['seed']}"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        prep = prepare(_spec_from_manifest(m, tmp))
        if prep.path.exists():
            raise RuntimeError(f"{prep.path} exists in a fresh temp dir")
        result = train(prep, log=lambda s: None)
        new = records.read_eval_rows(result.path)
        new_hash = records.read_manifest(result.path)["config_hash"]
    seconds = time.perf_counter() - t0
    if new_hash != m["config_hash"]:
        return label, False, f"config_hash {new_hash} != stored {m['config_hash']}", seconds
    a, b = _strip(stored.evals), _strip(new)
    if a == b:
        return label, True, f"{len(a)} rows identical", seconds
    if len(a) != len(b):
        return label, False, f"{len(b)} rows vs {len(a)} stored", seconds
    for i, (ra, rb) in enumerate(zip(a, b)):
        diff = [k for k in ra if ra[k] != rb.get(k)]
        if diff:
            return label, False, f"row {i} (env_steps {ra['env_steps']}) differs in {diff}", seconds
    return label, False, "rows differ", seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", help="a results directory (e.g. results/quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to re-run per pair (default 0)")
    p.add_argument("--only", nargs="+", metavar="ALGO/TASK", help="restrict to these 'algo@suite/task' pairs")
    p.add_argument("--workers", type=int, default=1, help="runs in parallel (default 1)")
    args = p.parse_args(argv)
    root = Path(args.results)
    if not root.is_dir():
        print(f"check_reproduces: error: {root} is not a directory", file=sys.stderr)
        return 2
    runs = []
    for d in records.find_runs(root):
        m = records.read_manifest(d)
        if m["status"] != "complete" or int(m["seed"]) not in args.seeds:
            continue
        if args.only and f"{m['algo']}@{m['task']}" not in args.only:
            continue
        runs.append(str(d))
    if not runs:
        print(f"check_reproduces: error: no complete runs with seeds {args.seeds} under {root}", file=sys.stderr)
        return 2
    print(f"re-running {len(runs)} runs from {root} (seeds {args.seeds}, {args.workers} workers)", flush=True)
    bad = 0
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for label, ok, detail, seconds in pool.map(check_one, runs):
            bad += not ok
            print(f"{'OK  ' if ok else 'DIFF'} {label:<60} {detail} ({seconds:.0f} s)", flush=True)
    print(f"{len(runs) - bad}/{len(runs)} runs reproduce bit for bit (clock and memory columns aside)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
