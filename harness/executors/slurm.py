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
* Queued or finished: every Slurm state but the terminal ones counts as queued/running (``task_phase``;
  squeue is asked with ``-t all``, whose default listing hides REQUEUED/REQUEUE_HOLD/SUSPENDED tasks),
  Slurm is asked before the records are read, and a task that is neither live nor recorded as finished
  is looked at again after a few seconds before its run is resubmitted (``split_unfinished``).

submitit's ``local`` cluster runs the same submission code without Slurm (fast unit tests).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .. import records
from ..runner import RunSpec
from .options import ExecutorOptionError, SlurmOptions
from .progress import SweepMonitor, run_status, tag
from .task import execute_run

__all__ = ["SlurmRun", "run_slurm", "describe_slurm", "submissions", "live_jobs", "squeue_states", "task_phase",
           "split_unfinished", "slurm_folder"]

SUBMISSIONS = "submissions.jsonl"


class _CurrentStream(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.<name>`` is at the time of each record."""

    def __init__(self, name: str):
        self._sys_stream = name
        super().__init__()

    @property
    def stream(self) -> Any:
        return getattr(sys, self._sys_stream)

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def import_submitit() -> Any:
    """``import submitit`` without its import-time ``logging.config.dictConfig``: that call closes every
    logging handler the host process has (pytest's own among them: a later test then fails with "I/O
    operation on closed file"). submitit's logger gets the same two handlers (INFO and up to stdout,
    WARNING and up to stderr) directly. ``SUBMITIT_LOG_LEVEL`` is honoured; the job processes import
    submitit themselves, unaffected."""
    if "submitit" in sys.modules:
        return sys.modules["submitit"]
    user = os.environ.get("SUBMITIT_LOG_LEVEL")
    level_str = (user or "INFO").upper()
    os.environ["SUBMITIT_LOG_LEVEL"] = "NOCONFIG"
    try:
        import submitit
    finally:
        if user is None:
            os.environ.pop("SUBMITIT_LOG_LEVEL", None)
        else:
            os.environ["SUBMITIT_LOG_LEVEL"] = user
    if level_str != "NOCONFIG":
        log = logging.getLogger("submitit")
        if not log.handlers:
            fmt = logging.Formatter("%(name)s %(levelname)s (%(asctime)s) - %(message)s")
            for name, lvl in (("stderr", logging.WARNING), ("stdout", logging.DEBUG)):
                h = _CurrentStream(name)
                h.setLevel(lvl)
                h.setFormatter(fmt)
                log.addHandler(h)
            log.setLevel(int(level_str) if level_str.isdigit() else level_str)
    return submitit


class SlurmRun:
    """The callable submitit pickles for each array task; checkpointable (requeue = resubmit)."""

    def __call__(self, payload: dict[str, Any], threads: int) -> str:
        return execute_run(payload, threads, banner=f"slurm {os.environ.get('SLURM_JOB_ID', 'local')}")

    def checkpoint(self, payload: dict[str, Any], threads: int) -> Any:
        """Called by submitit on preemption/time-limit: requeue the same run (it resumes from its
        last on-disk checkpoint, which the runner writes at every evaluation point)."""
        submitit = import_submitit()
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


# Slurm job states (squeue %T). A task in any state but ENDED_STATES may still run (or run again):
# it is never resubmitted. PREEMPTED counts as queued: with requeue on preemption the task comes back;
# a task preempted for good stays listed as PREEMPTED until slurmctld purges it (MinJobAge) and is
# resubmitted after that. A state this table does not know is treated as queued too (never resubmit
# what may still run).
ENDED_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
                          "REVOKED", "TIMEOUT"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING", "STOPPED"})


def task_phase(state: str | None) -> str:
    """``"running"``, ``"queued"`` or ``"ended"`` for a Slurm job state (None: not listed at all = ended).

    Queued: PENDING, REQUEUED, REQUEUE_HOLD, REQUEUE_FED, SUSPENDED, SPECIAL_EXIT, RESV_DEL_HOLD,
    PREEMPTED and any state not in the tables; running: RUNNING, COMPLETING, CONFIGURING, STAGE_OUT,
    SIGNALING, RESIZING, STOPPED; ended: the terminal states (COMPLETED, FAILED, CANCELLED, TIMEOUT, ...).
    Accepts sacct-style spellings (``CANCELLED by 0``, ``RUNNING+``)."""
    if not state or not state.split():
        return "ended"
    s = state.split()[0].upper().rstrip("+")
    if s in ENDED_STATES:
        return "ended"
    return "running" if s in RUNNING_STATES else "queued"


def squeue_states(job_ids: list[str]) -> dict[str, str] | None:
    """Slurm state of each given array task that ``squeue`` lists in any state (``-t all``: the default
    listing omits REQUEUED, REQUEUE_HOLD, SUSPENDED, ... and would hide a task being requeued).
    None when ``squeue`` is not available or fails."""
    if shutil.which("squeue") is None:
        return None
    if not job_ids:
        return {}
    try:  # all of this user's jobs (no -j: squeue fails outright when one listed array has been purged)
        r = subprocess.run(["squeue", "-h", "-r", "--me", "-t", "all", "-o", "%i %T"], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    states = dict(line.split()[:2] for line in r.stdout.splitlines() if len(line.split()) >= 2)
    return {j: states[j] for j in job_ids if j in states}


def live_jobs(job_ids: list[str]) -> dict[str, str] | None:
    """Slurm state of the given array tasks that may still run (queued or running, see ``task_phase``);
    tasks that ended or that ``squeue`` no longer lists are absent. None when ``squeue`` fails."""
    states = squeue_states(job_ids)
    return None if states is None else {j: s for j, s in states.items() if task_phase(s) != "ended"}


def split_unfinished(
    runs: list[RunSpec], earlier: dict[str, dict[str, Any]], query: Callable[[list[str]], dict[str, str] | None],
    status: Callable[[RunSpec], str | None], recheck_s: float = 3.0, sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda s: None,
) -> tuple[list[RunSpec], dict[str, str], list[RunSpec]]:
    """Split a sweep's runs into (finished, attached ``{run key: job id}``, to submit).

    The rule that keeps a run from being submitted twice:
    1. ask Slurm (``query``: the state of each listed task, ``squeue_states``) *before* reading the records, so a task that finishes between
       the two reads is seen as finished (its record), not as "neither queued nor finished";
    2. a run whose earlier task is live (queued, running, being requeued: see ``task_phase``) is attached;
    3. a run with an earlier task that is neither live nor recorded as finished gets a second look
       after ``recheck_s`` seconds (Slurm again, then its record again): squeue can miss a task for a
       moment (while slurmctld moves it between states, or a busy controller times out). Only a run
       still neither live nor finished then is resubmitted (it resumes from its checkpoint).
    4. when Slurm cannot be asked at all (three failed queries), nothing is submitted:
       ``ExecutorOptionError`` (resubmitting blind could run a run twice at once).
    ``say`` gets one line per resubmitted run saying why (its task's last state, its record's status).
    """
    ids = {_key(rs): str(earlier[_key(rs)]["job_id"]) for rs in runs if _key(rs) in earlier}

    last_seen: dict[str, str] = {}

    def ask() -> dict[str, str]:
        for attempt in range(3):
            live = query(sorted(set(ids.values())))
            if live is not None:
                last_seen.update(live)
                return live
            sleep(recheck_s * (attempt + 1))
        raise ExecutorOptionError("squeue failed three times: cannot tell which earlier tasks are still queued, "
                                  "so nothing was submitted; try again when `squeue --me` works")

    def sort(group: list[RunSpec], live: dict[str, str]) -> list[RunSpec]:
        doubtful = []
        for rs in group:
            if status(rs) in records.FINAL_STATUSES:
                finished.append(rs)
            elif _key(rs) in ids and task_phase(live.get(ids[_key(rs)])) != "ended":
                attached[_key(rs)] = ids[_key(rs)]
            else:
                doubtful.append(rs)
        return doubtful

    finished: list[RunSpec] = []
    attached: dict[str, str] = {}
    doubtful = sort(runs, ask() if ids else {})
    fresh = [rs for rs in doubtful if _key(rs) not in ids]
    seen = [rs for rs in doubtful if _key(rs) in ids]
    if seen:
        sleep(recheck_s)
        seen = sort(seen, ask())
        for rs in seen:
            say(f"[sweep] resubmitting {tag(rs)}: its task {ids[_key(rs)]} is no longer queued or running "
                f"(squeue: {last_seen.get(ids[_key(rs)], 'not listed')}) and its record says {status(rs)!r}")
    order = {id(rs): i for i, rs in enumerate(runs)}
    return finished, attached, sorted(fresh + seen, key=lambda rs: order[id(rs)])


def _make_executor(folder: Path, opts: SlurmOptions, cluster: str, name: str):
    try:
        submitit = import_submitit()
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
        import_submitit()
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
    if cluster == "slurm":
        done, attached, to_submit = split_unfinished(runs, submissions(folder), squeue_states, run_status,
                                                     say=lambda line: print(line, flush=True))
    else:  # submitit's local executor: its tasks die with the driver, nothing earlier is still queued
        done, attached, to_submit = split_unfinished(runs, {}, live_jobs, run_status)
    skipped = len(done)
    unfinished = [rs for rs in runs if _key(rs) in attached] + to_submit
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
    misses: dict[str, int] = {}
    try:
        while pending:
            time.sleep(poll)
            if cluster == "slurm":
                states = live_jobs([ids[k] for k in pending])
                if states is None:
                    continue  # squeue hiccup: ask again next time
                # a task squeue no longer shows as live has ended once its record says so; without a
                # final record it must be missing for two polls in a row (squeue can miss a task for a
                # moment while it is requeued), else it is reported with its record's status
                gone = [k for k in pending if ids[k] not in states]
                for k in [k for k in misses if k not in gone]:
                    misses.pop(k)
                ended = []
                for k in gone:
                    misses[k] = misses.get(k, 0) + 1
                    if misses[k] >= 2 or run_status(pending[k]) in records.FINAL_STATUSES:
                        ended.append(k)
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
