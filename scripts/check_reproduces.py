"""Re-run stored runs with the current code and compare their evaluation rows.

    python scripts/check_reproduces.py RESULTS_DIR [--seeds 0] [--tasks T ...] [--baseline-commit REV]

For every (algorithm label, task) pair under RESULTS_DIR and every selected seed, the run is trained
again in a temporary directory from what its manifest recorded (registry algorithm, the full resolved
config, budget, protocol, torch thread count), on the CPU, and every evaluation column is compared
exactly, clock and memory columns aside (``train_seconds``, ``eval_seconds``, ``compile_seconds``,
``peak_memory_mb``):

* against the stored ``evals.csv`` (bit for bit on the machine and library build that made it; CPU
  float kernels differ between machines, so a stored record may differ in the last bits elsewhere);
* with ``--baseline-commit REV``, also against the same run trained by the code of commit REV on this
  machine (a temporary git worktree): the check that a change of code left behaviour unchanged.

Prints one line per run and a summary; exits 1 if any run differs from its reference (the baseline
when given, else the stored record), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CLOCK_COLUMNS = ("train_seconds", "eval_seconds", "compile_seconds", "peak_memory_mb")
ROOT = Path(__file__).resolve().parent.parent


def _train(run_path: str, out: str) -> str:
    """Train the run ``run_path``'s manifest describes under ``out``; returns the new run directory.
    Imports whatever ``harness`` is first on the path (this checkout, or a baseline worktree)."""
    import torch

    from harness import records
    from harness.runner import RunSpec, prepare, train

    m = records.read_manifest(run_path)
    overrides = dict(m["config"])
    try:  # fields added after the record was made take their legacy values, not today's defaults
        from harness.config import stored_config_overrides
        from harness.registry import get_algorithm
        overrides = stored_config_overrides(get_algorithm(m["algorithm"]).config_cls, overrides)
    except ImportError:  # a baseline checkout older than stored_config_overrides
        pass
    torch.set_num_threads(int(m.get("torch_threads") or 1))  # CPU float results depend on it
    b = m["budget"]
    protocol = RunSpec.protocol_from_manifest(m) if hasattr(RunSpec, "protocol_from_manifest") else {}
    spec = RunSpec(
        algo=m["algo"], algorithm=m["algorithm"], task=m["task"], seed=int(m["seed"]), out=out,
        env_steps=b["env_steps"], eval_every=b["eval_every"], eval_episodes=b["eval_episodes"],
        num_envs=b["num_envs"], overrides=overrides, device="cpu", progress_every=0, **protocol,
    )
    result = train(prepare(spec), log=lambda s: None)
    return str(result.path)


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in CLOCK_COLUMNS} for r in rows]


def _compare(a: list[dict], b: list[dict]) -> str | None:
    """None if the rows agree (clock columns aside), else what differs first."""
    a, b = _strip(a), _strip(b)
    if a == b:
        return None
    if len(a) != len(b):
        return f"{len(a)} rows vs {len(b)}"
    for i, (ra, rb) in enumerate(zip(a, b)):
        diff = [k for k in ra if ra[k] != rb.get(k)]
        if diff:
            return f"row {i} (env_steps {ra['env_steps']}) differs in {diff}"
    return "rows differ"


def check_one(job: tuple[str, str | None]) -> tuple[str, bool, str, float]:
    """Re-run one stored run (and its baseline); returns (label, identical to reference, detail, seconds)."""
    from harness import records

    run_path, baseline_tree = job
    stored = records.load_run(run_path)
    m = stored.manifest
    label = f"{m['algo']} | {m['task']} | seed {m['seed']}"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        new_dir = _train(run_path, os.path.join(tmp, "new"))
        new = records.read_eval_rows(new_dir)
        new_hash = records.read_manifest(new_dir)["config_hash"]
        base = None
        if baseline_tree is not None:
            env = dict(os.environ, PYTHONPATH=baseline_tree)
            out = subprocess.run(
                [sys.executable, __file__, "--train-one", run_path, os.path.join(tmp, "base")],
                cwd=baseline_tree, env=env, capture_output=True, text=True,
            )
            if out.returncode != 0:
                return label, False, f"baseline run failed: {out.stderr[-500:]}", time.perf_counter() - t0
            base = records.read_eval_rows(out.stdout.strip().splitlines()[-1])
    seconds = time.perf_counter() - t0
    if new_hash != m["config_hash"]:
        return label, False, f"config_hash {new_hash} != stored {m['config_hash']}", seconds
    vs_stored = _compare(new, stored.evals)
    stored_text = "= stored" if vs_stored is None else f"stored: {vs_stored}"
    if base is None:
        return label, vs_stored is None, stored_text, seconds
    vs_base = _compare(new, base)
    return label, vs_base is None, ("= baseline" if vs_base is None else f"baseline: {vs_base}") + f"; {stored_text}", seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", help="a results directory (e.g. results/quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to re-run per pair (default 0)")
    p.add_argument("--tasks", nargs="+", metavar="TASK", help="restrict to these tasks, e.g. toy/MultiGoal")
    p.add_argument("--only", nargs="+", metavar="ALGO@TASK", help="restrict to these 'algo@suite/task' pairs")
    p.add_argument("--baseline-commit", metavar="REV", help="also train each run with the code of REV and compare")
    p.add_argument("--workers", type=int, default=1, help="runs in parallel (default 1)")
    p.add_argument("--train-one", nargs=2, metavar=("RUN", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.train_one:
        print(_train(*args.train_one))
        return 0
    from harness import records

    root = Path(args.results or "")
    if not args.results or not root.is_dir():
        print(f"check_reproduces: error: {args.results!r} is not a results directory", file=sys.stderr)
        return 2
    runs = []
    for d in records.find_runs(root):
        m = records.read_manifest(d)
        if m["status"] != "complete" or int(m["seed"]) not in args.seeds:
            continue
        if (args.only and f"{m['algo']}@{m['task']}" not in args.only) or (args.tasks and m["task"] not in args.tasks):
            continue
        runs.append(str(d.resolve()))
    if not runs:
        print(f"check_reproduces: error: no complete runs with seeds {args.seeds} under {root}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as wt_parent:
        tree = None
        if args.baseline_commit:
            tree = os.path.join(wt_parent, "baseline")
            made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", tree, args.baseline_commit],
                                  capture_output=True, text=True)
            if made.returncode != 0:
                print(f"check_reproduces: error: cannot check out {args.baseline_commit!r}: {made.stderr.strip()}",
                      file=sys.stderr)
                return 2
        try:
            print(f"re-running {len(runs)} runs from {root} (seeds {args.seeds}, {args.workers} workers"
                  + (f", baseline {args.baseline_commit}" if tree else "") + ")", flush=True)
            bad = 0
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                for label, ok, detail, seconds in pool.map(check_one, [(r, tree) for r in runs]):
                    bad += not ok
                    print(f"{'OK  ' if ok else 'DIFF'} {label:<55} {detail} ({seconds:.0f} s)", flush=True)
        finally:
            if tree:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree], capture_output=True)
    what = f"the code of {args.baseline_commit}" if args.baseline_commit else "their stored records"
    print(f"{len(runs) - bad}/{len(runs)} runs reproduce {what} bit for bit (clock and memory columns aside)")
    print(json.dumps({"identical": len(runs) - bad, "runs": len(runs)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
