"""Sweep specs (TOML) -> a validated plan of independent, idempotent runs -> executors.

Spec format::

    name = "quick"                    # optional, defaults to the file stem
    seeds = [0, 1, 2]
    algorithms = ["ppo", "cppo_k4"]   # registry names or variant labels
    device = "cpu"                    # optional (default auto)
    desync = true                     # optional: desynchronised training starts (default true)

    [tasks."toy/MultiGoal"]           # budget and schedule (each optional but env_steps)
    env_steps = 100_000
    eval_every = 10_000
    eval_episodes = 64
    num_envs = 32

    [config.ppo]                      # overrides for one label, every task
    lr = 3e-4
    [config.ppo."toy/MultiGoal"]      # overrides for one label on one task
    entropy_coef = 0.0

    [variants.cppo_k4]                # a labelled variant of a registered algorithm
    algorithm = "cppo"
    config = { flow_steps = 4 }

Every run is the unit ``(spec, algo, task, seed)``: complete (or diverged) runs are skipped, runs
killed or failed are resumed from their checkpoint. The whole plan is validated (names, config
keys and types, budgets, task availability, existing records) before any run starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import records
from .registry import RegistryError, get_algorithm, get_task
from .runner import RunSpec, prepare

__all__ = ["SpecError", "SweepSpec", "expand", "load_spec", "plan", "run_local"]


class SpecError(ValueError):
    """A malformed sweep spec or a plan that cannot run; lists every problem found."""


@dataclass(frozen=True)
class SweepSpec:
    name: str
    seeds: tuple[int, ...]
    algorithms: tuple[str, ...]
    tasks: dict[str, dict[str, int]]
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "auto"
    source: str = ""
    desync: bool = True


_TASK_KEYS = ("env_steps", "eval_every", "eval_episodes", "num_envs")
_TOP_KEYS = ("name", "seeds", "algorithms", "tasks", "config", "variants", "device", "description", "desync")


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Parse and shape-check a TOML sweep spec (names are checked later, in ``plan``)."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"sweep spec {str(p)!r} not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"sweep spec {p}: malformed TOML ({e})") from None
    problems: list[str] = []
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        problems.append(f"unknown top-level keys {unknown}; allowed: {', '.join(_TOP_KEYS)}")
    seeds = data.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        problems.append(f"'seeds' must be a non-empty list of non-negative integers, got {seeds!r}")
        seeds = []
    elif len(set(seeds)) != len(seeds):
        problems.append(f"'seeds' has duplicates: {seeds}")
    algos = data.get("algorithms")
    if not isinstance(algos, list) or not algos or not all(isinstance(a, str) for a in algos):
        problems.append(f"'algorithms' must be a non-empty list of names, got {algos!r}")
        algos = []
    tasks = data.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        problems.append("'tasks' must be a table of task names, e.g. [tasks.\"toy/MultiGoal\"] env_steps = 100000")
        tasks = {}
    for tname, tcfg in tasks.items():
        if not isinstance(tcfg, dict):
            problems.append(f"tasks.{tname!r} must be a table")
            continue
        bad = sorted(set(tcfg) - set(_TASK_KEYS))
        if bad:
            problems.append(f"tasks.{tname!r}: unknown keys {bad}; allowed: {', '.join(_TASK_KEYS)}")
        for k in _TASK_KEYS:
            v = tcfg.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                problems.append(f"tasks.{tname!r}.{k} must be a positive integer, got {v!r}")
    config = data.get("config", {})
    variants = data.get("variants", {})
    if not isinstance(config, dict) or not isinstance(variants, dict):
        problems.append("'config' and 'variants' must be tables")
        config, variants = {}, {}
    for label, v in variants.items():
        if not isinstance(v, dict) or not isinstance(v.get("algorithm"), str):
            problems.append(f"variants.{label}: needs algorithm = \"<registered name>\"")
        elif sorted(set(v) - {"algorithm", "config"}):
            problems.append(f"variants.{label}: unknown keys {sorted(set(v) - {'algorithm', 'config'})}; allowed: algorithm, config")
    device = data.get("device", "auto")
    desync = data.get("desync", True)
    if not isinstance(desync, bool):
        problems.append(f"'desync' must be true or false, got {desync!r}")
    if problems:
        raise SpecError(f"sweep spec {p}:\n  - " + "\n  - ".join(problems))
    return SweepSpec(
        name=str(data.get("name", p.stem)), seeds=tuple(seeds), algorithms=tuple(algos), tasks=tasks,
        config=config, variants=variants, device=device, source=str(p), desync=desync,
    )


def _overrides(spec: SweepSpec, label: str, task: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if label in spec.variants:
        out.update(spec.variants[label].get("config", {}))
    table = spec.config.get(label, {})
    out.update({k: v for k, v in table.items() if not isinstance(v, dict)})
    per_task = table.get(task)
    if isinstance(per_task, dict):
        out.update(per_task)
    return out


def expand(spec: SweepSpec, out: str, device: str | None = None) -> list[RunSpec]:
    """Every ``(label, task, seed)`` run of the spec as a ``RunSpec``, unvalidated (``plan`` validates)."""
    runs: list[RunSpec] = []
    for label in spec.algorithms:
        algorithm = spec.variants.get(label, {}).get("algorithm", label)
        for task, tcfg in spec.tasks.items():
            for seed in spec.seeds:
                runs.append(RunSpec(
                    algo=label, algorithm=algorithm, task=task, seed=seed, out=out,
                    env_steps=tcfg.get("env_steps"), eval_every=tcfg.get("eval_every"),
                    eval_episodes=tcfg.get("eval_episodes"), num_envs=tcfg.get("num_envs"),
                    overrides=_overrides(spec, label, task), device=device or spec.device, sweep=spec.name,
                    desync=spec.desync,
                ))
    return runs


def plan(spec: SweepSpec, out: str, device: str | None = None, check_device: bool = True) -> list[RunSpec]:
    """Expand a spec into run specs and validate every one; raises ``SpecError`` listing all problems.

    ``check_device=False`` (cluster executors) validates everything but whether the device exists on
    this machine: a Slurm login node or Ray driver may have no GPU while the runs' nodes do."""
    problems: list[str] = []
    runs: list[RunSpec] = []
    for label in spec.config:
        if label not in spec.algorithms:
            problems.append(f"config.{label}: {label!r} is not in algorithms {list(spec.algorithms)}")
    for task in spec.tasks:
        try:
            t = get_task(task)
        except RegistryError as e:
            problems.append(str(e))
            continue
        why = t.available()
        if why:
            problems.append(f"task {task!r} cannot run here: {why}")
    for rs in expand(spec, out, device):
        try:
            prepare(rs if check_device or not rs.device.startswith("cuda") else replace(rs, device="cpu"))
        except (ValueError, LookupError) as e:
            msg = f"{rs.algo} on {rs.task}: {e}"
            if msg not in problems:
                problems.append(msg)
            continue
        runs.append(rs)
    if problems:
        raise SpecError("the sweep cannot start:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    return runs


def _status(rs: RunSpec) -> str | None:
    path = records.run_dir(rs.out, rs.task, rs.algo, rs.seed)
    try:
        return records.read_manifest(path)["status"]
    except records.RecordError:
        return None


def _progress_steps(rs: RunSpec) -> int:
    try:
        return int(records.read_manifest(records.run_dir(rs.out, rs.task, rs.algo, rs.seed)).get("env_steps", 0))
    except records.RecordError:
        return 0


def _budget(rs: RunSpec) -> int:
    return rs.env_steps or get_task(rs.task).env_steps


def _launch_order(rs: RunSpec) -> tuple[bool, int]:
    """Longest-first heuristic: off-policy runs (many gradient steps per env step) and larger budgets
    start first, so short runs fill the workers at the end instead of one long run running alone."""
    return (get_algorithm(rs.registry_name).on_policy, -_budget(rs))


def run_local(runs: list[RunSpec], workers: int = 1, progress_every: float = 15.0, threads: int | None = None) -> dict[str, int]:
    """Run the plan with ``workers`` worker processes; returns counts by final status.

    Each run is a subprocess (``python -m harness.worker``) writing its console output to
    ``stdout.log`` in its run directory, so a crash or a kill of one run never touches another.
    """
    if workers < 1:
        raise SpecError(f"--workers must be >= 1, got {workers}")
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores // workers)
    todo = sorted((rs for rs in runs if _status(rs) not in records.FINAL_STATUSES), key=_launch_order)
    skipped = len(runs) - len(todo)
    total_steps = sum(_budget(rs) for rs in todo) or 1
    print(
        f"[sweep] {len(runs)} runs: {skipped} already finished (skipped), {len(todo)} to run "
        f"with {workers} worker(s) x {threads} thread(s)",
        flush=True,
    )
    counts = {"complete": 0, "diverged": 0, "failed": 0, "skipped": skipped}
    running: dict[subprocess.Popen, RunSpec] = {}
    queue = list(todo)
    t0 = time.monotonic()
    last = -float("inf")
    done_steps = 0
    start_steps = {id(rs): _progress_steps(rs) for rs in todo}

    def launch(rs: RunSpec) -> None:
        d = records.run_dir(rs.out, rs.task, rs.algo, rs.seed)
        d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, DPBENCH_THREADS=str(threads), PYTHONUNBUFFERED="1")
        log = open(d / "stdout.log", "a", encoding="utf-8")
        payload = json.dumps(asdict(rs) | {"progress_every": 30.0})
        python = get_task(rs.task).python() or sys.executable  # a suite's own venv where it has one
        proc = subprocess.Popen([python, "-m", "harness.worker", payload], stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        running[proc] = rs

    try:
        while queue or running:
            while queue and len(running) < workers:
                launch(queue.pop(0))
            time.sleep(0.5)
            for proc in [p for p in running if p.poll() is not None]:
                rs = running.pop(proc)
                status = _status(rs) or "failed"
                if proc.returncode != 0 and status == "running":
                    status = "failed"
                counts[status if status in counts else "failed"] += 1
                done_steps += _budget(rs) - start_steps[id(rs)]
                tag = f"{rs.algo} | {rs.task} | seed {rs.seed}"
                note = "" if status == "complete" else f" (see {records.run_dir(rs.out, rs.task, rs.algo, rs.seed) / 'stdout.log'})"
                print(f"[sweep] {status}: {tag}{note}", flush=True)
            now = time.monotonic()
            if now - last >= progress_every and (queue or running):
                last = now
                partial = sum(max(0, _progress_steps(rs) - start_steps[id(rs)]) for rs in running.values())
                frac = (done_steps + partial) / total_steps
                elapsed = now - t0
                eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
                finished = counts["complete"] + counts["diverged"]
                eta_s = f"{eta / 60:.1f} min" if eta == eta else "?"
                print(
                    f"[sweep] {finished}/{len(todo)} done, {len(running)} running, {counts['failed']} failed, "
                    f"{len(queue)} queued | {100 * frac:.0f}% of env steps | elapsed {elapsed / 60:.1f} min"
                    f" | ETA {eta_s}",
                    flush=True,
                )
    except KeyboardInterrupt:
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        raise
    print(
        f"[sweep] finished in {(time.monotonic() - t0) / 60:.1f} min: {counts['complete']} complete, "
        f"{counts['diverged']} diverged, {counts['failed']} failed, {counts['skipped']} skipped",
        flush=True,
    )
    return counts
