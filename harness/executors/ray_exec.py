"""``--executor ray``: each run is one Ray task on an existing Ray cluster.

Each task declares ``num_cpus``/``num_gpus`` (fractional GPUs let several small runs share one
GPU), runs ``harness.runner.train`` in the Ray worker process and writes its console output to
``stdout.log`` in its run directory. Ray re-executes a task whose worker process or node died
(``max_retries``); the retry resumes from the run's last checkpoint, and the runner truncates any
row written past it, so a run ends with exactly one row per evaluation point. Python errors in a
run are recorded in its manifest and not retried.

Records go to ``--out``, which must be an absolute path on storage every node sees. The driver
only reads records for progress; stopping it (Ctrl-C, or killing it: Ray then kills the tasks it
owns) and starting it again skips finished runs and resumes the others.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .. import records
from ..runner import RunSpec
from .options import ExecutorOptionError, RayOptions
from .progress import SweepMonitor, run_status
from .task import execute_run

__all__ = ["run_ray", "describe_ray", "dpbench_run", "TASK_NAME"]

TASK_NAME = "dpbench_run"
"""Ray names the worker process ``ray::dpbench_run`` while it executes a run."""


def dpbench_run(payload: dict[str, Any], threads: int) -> str:
    """The body of one Ray task: train (or resume, or skip) one run; returns its final status."""
    return execute_run(payload, threads, banner="ray")


def describe_ray(runs: list[RunSpec], opts: RayOptions, todo: int) -> str:
    """The resource plan printed by ``--dry-run`` (touches neither the cluster nor ``--out``)."""
    lines = [
        f"[dry-run] executor ray, address {opts.address}: {len(runs)} runs ({todo} to run, "
        f"{len(runs) - todo} already finished), one Ray task each",
        f"[dry-run] per run: num_cpus={opts.cpus_per_run:g} (torch threads {opts.threads}), "
        f"num_gpus={opts.gpus_per_run:g}, max_retries={opts.max_retries} (worker/node loss; resumes from checkpoint)",
        f"[dry-run] whole sweep at once: {opts.cpus_per_run * todo:g} CPUs, {opts.gpus_per_run * todo:g} GPUs",
    ]
    if 0 < opts.gpus_per_run < 1:
        lines.append(f"[dry-run] GPU packing: {int(1 / opts.gpus_per_run)} runs share each GPU")
    return "\n".join(lines)


def _connect(opts: RayOptions):
    try:
        import ray
    except ImportError as e:
        raise ExecutorOptionError(
            f"--executor ray needs the 'ray' package ({e}); install the extra: pip install -e '.[cluster]'"
        ) from None
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
    if opts.address == "local":
        kwargs.update(include_dashboard=False)
    else:
        kwargs["address"] = opts.address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ExecutorOptionError(
            f"--address {opts.address}: cannot connect to a Ray cluster ({str(e).splitlines()[0]}); "
            "start one with `ray start --head` or pass --address HOST:PORT"
        ) from None
    return ray


def _check_fits(ray: Any, opts: RayOptions) -> None:
    """Refuse (before submitting) a per-run request no node can ever satisfy: it would wait forever."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0)
    gpus = max((n["Resources"].get("GPU", 0.0) for n in nodes), default=0.0)
    if opts.cpus_per_run > cpus or opts.gpus_per_run > gpus:
        raise ExecutorOptionError(
            f"--cpus-per-run {opts.cpus_per_run:g} / --gpus-per-run {opts.gpus_per_run:g}: no node of the Ray "
            f"cluster has that much (largest node: {cpus:g} CPUs, {gpus:g} GPUs)"
        )


def run_ray(runs: list[RunSpec], opts: RayOptions, progress_every: float = 15.0) -> dict[str, int]:
    """Run the plan as Ray tasks and wait for all of them; returns counts by final status.

    Raises ``ExecutorOptionError`` (before submitting anything) when Ray is missing, the cluster
    cannot be reached, or no node can hold one run.
    """
    ray = _connect(opts)
    try:
        _check_fits(ray, opts)
        todo = [rs for rs in runs if run_status(rs) not in records.FINAL_STATUSES]
        skipped = len(runs) - len(todo)
        res = ray.cluster_resources()
        print(
            f"[sweep] {len(runs)} runs: {skipped} already finished (skipped), {len(todo)} to run as Ray tasks "
            f"({opts.cpus_per_run:g} CPU, {opts.gpus_per_run:g} GPU each) on a cluster of "
            f"{res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs",
            flush=True,
        )
        monitor = SweepMonitor(todo, skipped, every=progress_every)
        remote = ray.remote(dpbench_run).options(
            num_cpus=opts.cpus_per_run, num_gpus=opts.gpus_per_run, max_retries=opts.max_retries,
            retry_exceptions=False, name=TASK_NAME,
        )
        pending: dict[Any, RunSpec] = {}
        for rs in todo:
            payload = json.loads(json.dumps(asdict(rs) | {"progress_every": 30.0}))
            pending[remote.remote(payload, opts.threads)] = rs
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    rs = pending.pop(ref)
                    try:
                        status = ray.get(ref)
                        note = ""
                    except Exception as e:  # noqa: BLE001 - a failed run is reported, the sweep goes on
                        status = "failed"
                        note = f" ({type(e).__name__}: {str(e).splitlines()[0][:200]}; see " \
                               f"{records.run_dir(rs.out, rs.task, rs.algo, rs.seed) / 'stdout.log'})"
                    recorded = run_status(rs)
                    monitor.finished(rs, recorded if status != "failed" and recorded else status, note)
                if pending:
                    started = [rs for rs in pending.values() if run_status(rs) == "running"]
                    monitor.tick(started, queued=len(pending) - len(started))
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return monitor.summary()
    finally:
        ray.shutdown()
