"""``--executor slurm``: one Slurm job array per sweep through submitit (one array task per run).

* Resources come from ``SlurmOptions`` (partition, account, time limit, CPUs/GPUs per task, memory,
  extra sbatch flags); ``--slurm-array-parallelism`` throttles the array (``--array=0-N%K``).
* Preemption and time limits: Slurm signals the task before killing it; submitit catches the
  signal, calls ``SlurmRun.checkpoint`` (which resubmits the same run) and requeues the task. The
  requeued task resumes from the run's last checkpoint (rows written past it are dropped by the
  runner), so the run still ends with exactly one row per evaluation point.
* The driver submits, records the job id of every run in ``OUT/.slurm/submissions.jsonl`` and then
  (unless ``--no-wait``) follows progress from the records and ``squeue``. Re-running the same
  command skips finished runs, does not resubmit runs whose task is still queued or running, and
  resubmits the rest (they resume). ``dpbench sweep status`` reports the same from the records.

submitit's ``local`` cluster runs the same submission code without Slurm (fast unit tests).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .. import records
from ..runner import RunSpec
from .options import ExecutorOptionError, SlurmOptions
from .progress import SweepMonitor, run_status, tag
from .task import execute_run

__all__ = ["SlurmRun", "run_slurm", "describe_slurm", "submissions", "live_jobs", "slurm_folder"]

SUBMISSIONS = "submissions.jsonl"


class SlurmRun:
    """The callable submitit pickles for each array task; checkpointable (requeue = resubmit)."""

    def __call__(self, payload: dict[str, Any], threads: int) -> str:
        return execute_run(payload, threads, banner=f"slurm {os.environ.get('SLURM_JOB_ID', 'local')}")

    def checkpoint(self, payload: dict[str, Any], threads: int) -> Any:
        """Called by submitit on preemption/time-limit: requeue the same run (it resumes from its
        last on-disk checkpoint, which the runner writes at every evaluation point)."""
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmRun(), payload, threads)


def slurm_folder(out: str, opts: SlurmOptions) -> Path:
    return Path(opts.folder) if opts.folder else Path(out) / ".slurm"


def _payload(rs: RunSpec) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(rs) | {"progress_every": 30.0}))


def _key(rs: RunSpec) -> str:
    return f"{rs.task}|{rs.algo}|{rs.seed}"


def submissions(folder: Path) -> dict[str, dict[str, Any]]:
    """Latest submission per run key (``task|algo|seed``) recorded under ``folder``."""
    out: dict[str, dict[str, Any]] = {}
    path = folder / SUBMISSIONS
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: the submission it described is also in squeue
            out[e["run"]] = e
    return out


def live_jobs(job_ids: list[str]) -> dict[str, str] | None:
    """Slurm state (PENDING, RUNNING, ...) of the given array tasks still known to ``squeue``;
    tasks that ended are absent. None when ``squeue`` is not available or fails."""
    if shutil.which("squeue") is None:
        return None
    if not job_ids:
        return {}
    try:  # all of this user's jobs (no -j: squeue fails outright when one listed array has been purged)
        r = subprocess.run(["squeue", "-h", "-r", "--me", "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    states = dict(line.split()[:2] for line in r.stdout.splitlines() if len(line.split()) >= 2)
    return {j: states[j] for j in job_ids if j in states}


def _make_executor(folder: Path, opts: SlurmOptions, cluster: str, name: str):
    try:
        import submitit
    except ImportError as e:
        raise ExecutorOptionError(
            f"--executor slurm needs the 'submitit' package ({e}); install the extra: pip install -e '.[cluster]'"
        ) from None
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise ExecutorOptionError("--executor slurm: no `sbatch` on PATH; run the sweep from a Slurm login node")
    ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=cluster, slurm_max_num_timeout=opts.max_requeues)
    ex.update_parameters(**opts.submitit_parameters(name))
    return ex


def describe_slurm(runs: list[RunSpec], opts: SlurmOptions, out: str, todo: int, name: str) -> str:
    """The sbatch parameters printed by ``--dry-run`` (touches neither Slurm nor ``--out``)."""
    folder = slurm_folder(out, opts)
    lines = [
        f"[dry-run] executor slurm: {len(runs)} runs ({todo} to run, {len(runs) - todo} already finished) "
        f"as one job array of {todo} tasks",
        f"[dry-run] submitit folder: {folder}",
        "[dry-run] sbatch parameters:",
    ]
    try:
        from submitit.slurm import slurm as sl

        rename = {"name": "job_name", "timeout_min": "time", "tasks_per_node": "ntasks_per_node"}
        params: dict[str, Any] = {rename.get(k, k[len("slurm_"):] if k.startswith("slurm_") else k): v
                  for k, v in opts.submitit_parameters(name).items()}
        if "mem_gb" in params:
            params["mem"] = sl._convert_mem(params.pop("mem_gb"))
        params.pop("array_parallelism", None)
        text = sl._make_sbatch_string(
            command="python -u -m submitit.core._submit " + shlex.quote(str(folder / "%j")),
            folder=str(folder / "%j"), map_count=max(todo, 1), array_parallelism=opts.array_parallelism,
            signal_delay_s=90, **params,
        )
        lines += ["  " + ln for ln in text.splitlines() if ln.startswith("#SBATCH")]
    except Exception as e:  # noqa: BLE001 - submitit absent or its private helper changed: plain dict
        lines.append(f"  (submitit's sbatch renderer unavailable: {e})")
        lines += [f"  {k} = {v}" for k, v in opts.submitit_parameters(name).items()]
        lines.append(f"  array = 0-{max(todo, 1) - 1}%{opts.array_parallelism}")
    lines.append(f"[dry-run] time-limit requeues per task: {opts.max_requeues}; preemption requeues: unlimited")
    return "\n".join(lines)


def run_slurm(
    runs: list[RunSpec], opts: SlurmOptions, out: str, name: str, *, wait: bool = True,
    cluster: str = "slurm", progress_every: float = 15.0, poll: float = 2.0,
) -> dict[str, int]:
    """Submit the unfinished runs as one job array (skipping those still queued or running from an
    earlier submission) and, with ``wait``, follow them to the end; returns counts by status.

    ``cluster="local"`` uses submitit's local executor (no Slurm), for tests.
    """
    folder = slurm_folder(out, opts)
    ex = _make_executor(folder, opts, cluster, name)
    unfinished = [rs for rs in runs if run_status(rs) not in records.FINAL_STATUSES]
    skipped = len(runs) - len(unfinished)
    earlier = submissions(folder)
    alive: dict[str, str] = {}
    if cluster == "slurm":
        earlier_ids = [earlier[_key(rs)]["job_id"] for rs in unfinished if _key(rs) in earlier]
        alive = live_jobs(earlier_ids) or {}
    attached = {_key(rs): earlier[_key(rs)]["job_id"] for rs in unfinished
                if _key(rs) in earlier and earlier[_key(rs)]["job_id"] in alive}
    to_submit = [rs for rs in unfinished if _key(rs) not in attached]
    print(
        f"[sweep] {len(runs)} runs: {skipped} already finished (skipped), {len(attached)} still queued/running "
        f"from an earlier submission, {len(to_submit)} to submit as a Slurm job array"
        + (" (submitit local executor)" if cluster != "slurm" else ""),
        flush=True,
    )
    jobs: dict[str, Any] = {}
    if to_submit:
        folder.mkdir(parents=True, exist_ok=True)
        payloads = [_payload(rs) for rs in to_submit]
        try:
            submitted = ex.map_array(SlurmRun(), payloads, [opts.cpus_per_run] * len(payloads))
        except Exception as e:  # noqa: BLE001 - sbatch refused (unknown partition/account, bad flag): nothing runs
            msg = str(e).strip().splitlines()
            raise ExecutorOptionError(
                "sbatch refused the job array, nothing was submitted: " + (msg[-1] if msg else type(e).__name__)
            ) from None
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        with open(folder / SUBMISSIONS, "a", encoding="utf-8") as f:
            for rs, job in zip(to_submit, submitted):
                f.write(json.dumps({"run": _key(rs), "job_id": str(job.job_id), "submitted_at": now,
                                    "cluster": cluster}) + "\n")
                jobs[_key(rs)] = job
            f.flush()
            os.fsync(f.fileno())
        first = str(submitted[0].job_id).split("_")[0]
        print(f"[sweep] submitted job array {first} ({len(submitted)} tasks, at most {opts.array_parallelism} "
              f"at once); logs under {folder}", flush=True)
    if not wait:
        print(f"[sweep] not waiting: follow it with `dpbench sweep status <spec> --out {out}`; re-running this "
              "command skips finished runs and resubmits only runs that are neither finished nor queued", flush=True)
        return {"complete": 0, "diverged": 0, "failed": 0, "skipped": skipped, "submitted": len(to_submit)}

    ids = {_key(rs): (str(jobs[_key(rs)].job_id) if _key(rs) in jobs else attached[_key(rs)]) for rs in unfinished}
    monitor = SweepMonitor(unfinished, skipped, every=progress_every)
    pending = {_key(rs): rs for rs in unfinished}
    try:
        while pending:
            time.sleep(poll)
            if cluster == "slurm":
                states = live_jobs([ids[k] for k in pending])
                if states is None:
                    continue  # squeue hiccup: ask again next time
                ended = [k for k in pending if ids[k] not in states]
            else:
                ended = [k for k in pending if jobs[k].done()]
            for k in ended:
                rs = pending.pop(k)
                status = run_status(rs) or "failed"
                note = "" if status in records.FINAL_STATUSES else \
                    f" (job {ids[k]}; see {records.run_dir(rs.out, rs.task, rs.algo, rs.seed) / 'stdout.log'} " \
                    f"and {folder / ids[k]})"
                monitor.finished(rs, status, note)
            if pending:
                started = [rs for rs in pending.values() if run_status(rs) == "running"]
                monitor.tick(started, queued=len(pending) - len(started))
    except KeyboardInterrupt:
        print(f"[sweep] driver stopped; the jobs keep running on Slurm: `dpbench sweep status <spec> --out {out}`",
              flush=True)
        raise
    return monitor.summary()


def job_of(rs: RunSpec, subs: dict[str, dict[str, Any]]) -> str | None:
    e = subs.get(_key(rs))
    return e["job_id"] if e else None


__all__ += ["job_of", "tag"]
