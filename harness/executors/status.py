"""``dpbench sweep status SPEC --out DIR``: where every run of a sweep stands, from the records
(plus ``squeue`` for runs submitted to Slurm). Works for any executor: the records are the truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .. import records
from ..runner import RunSpec
from .progress import budget, tag
from .slurm import SUBMISSIONS, _key, live_jobs, submissions, task_phase

__all__ = ["sweep_status", "format_status"]


def sweep_status(runs: list[RunSpec], out: str, slurm_folder: Path | None = None) -> list[dict[str, Any]]:
    """One entry per planned run: state (complete, diverged, running, queued, interrupted, failed,
    not started), env steps recorded, budget, and the Slurm job id where one was submitted."""
    folder = slurm_folder or Path(out) / ".slurm"
    subs = submissions(folder) if (folder / SUBMISSIONS).exists() else {}
    ids = {_key(rs): subs[_key(rs)]["job_id"] for rs in runs if _key(rs) in subs}
    live = live_jobs(list(ids.values())) if ids else None
    rows = []
    for rs in runs:
        d = records.run_dir(rs.out, rs.task, rs.algo, rs.seed)
        try:
            m = records.read_manifest(d)
            state, steps = m["status"], int(m.get("env_steps", 0))
        except records.RecordError:
            m, state, steps = None, "not started", 0
        job = ids.get(_key(rs))
        slurm_state = (live or {}).get(job) if job else None
        if state not in records.FINAL_STATUSES and slurm_state:
            # a requeued task shows PENDING while its manifest still says running/failed
            state = task_phase(slurm_state)  # "running" or "queued" (live_jobs lists no ended task)
        elif state == "running" and live is not None and job:
            state = "interrupted"  # manifest says running but the task left the queue: resume by re-running
        rows.append({"run": tag(rs), "state": state, "env_steps": steps, "budget": budget(rs), "job": job,
                     "slurm": slurm_state, "path": str(d)})
    return rows


def format_status(rows: list[dict[str, Any]], name: str, out: str) -> str:
    c = Counter(r["state"] for r in rows)
    order = ("complete", "diverged", "running", "queued", "interrupted", "failed", "not started")
    head = ", ".join(f"{c[s]} {s}" for s in order if c[s])
    lines = [f"[status] sweep {name!r} in {out}: {len(rows)} runs: {head}"]
    for r in rows:
        if r["state"] in ("complete",):
            continue
        job = f"  job {r['job']}" + (f" ({r['slurm']})" if r["slurm"] else "") if r["job"] else ""
        lines.append(f"  {r['state']:<12} {r['run']:<50} {r['env_steps']:>10,}/{r['budget']:,} env steps{job}")
    return "\n".join(lines)
