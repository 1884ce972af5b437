"""Progress, ETA and summary lines of a sweep, computed from the run records alone.

Used by the cluster executors (the driver only sees the records under ``--out``, whatever node a
run is on); the lines read exactly like the local executor's.
"""

from __future__ import annotations

import time
from typing import Iterable

from .. import records
from ..registry import get_task
from ..runner import RunSpec

__all__ = ["SweepMonitor", "run_status", "run_steps", "budget", "tag"]


def run_status(rs: RunSpec) -> str | None:
    """The run's recorded status, or None when it has no readable manifest yet."""
    try:
        return records.read_manifest(records.run_dir(rs.out, rs.task, rs.algo, rs.seed))["status"]
    except records.RecordError:
        return None


def run_steps(rs: RunSpec) -> int:
    """Env steps the run has recorded so far (at its last evaluation point)."""
    try:
        return int(records.read_manifest(records.run_dir(rs.out, rs.task, rs.algo, rs.seed)).get("env_steps", 0))
    except records.RecordError:
        return 0


def budget(rs: RunSpec) -> int:
    return rs.env_steps or get_task(rs.task).env_steps


def tag(rs: RunSpec) -> str:
    return f"{rs.algo} | {rs.task} | seed {rs.seed}"


class SweepMonitor:
    """Counts finished runs and prints rate-limited progress lines with an env-step-weighted ETA."""

    def __init__(self, todo: list[RunSpec], skipped: int, every: float = 15.0, prefix: str = "[sweep]"):
        self.todo, self.every, self.prefix = todo, every, prefix
        self.counts = {"complete": 0, "diverged": 0, "failed": 0, "skipped": skipped}
        self.total_steps = sum(budget(rs) for rs in todo) or 1
        self.start_steps = {id(rs): run_steps(rs) for rs in todo}
        self.done_steps = 0
        self.t0 = time.monotonic()
        self.last = -float("inf")

    def finished(self, rs: RunSpec, status: str, note: str = "") -> None:
        status = status if status in ("complete", "diverged") else "failed"
        self.counts[status] += 1
        self.done_steps += budget(rs) - self.start_steps.get(id(rs), 0)
        if status != "complete" and not note:
            note = f" (see {records.run_dir(rs.out, rs.task, rs.algo, rs.seed) / 'stdout.log'})"
        print(f"{self.prefix} {status}: {tag(rs)}{note}", flush=True)

    def tick(self, running: Iterable[RunSpec], queued: int, force: bool = False) -> None:
        running = list(running)
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        partial = sum(max(0, run_steps(rs) - self.start_steps.get(id(rs), 0)) for rs in running)
        frac = min(1.0, (self.done_steps + partial) / self.total_steps)
        elapsed = now - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        eta_s = f"{eta / 60:.1f} min" if eta == eta else "?"
        c = self.counts
        print(
            f"{self.prefix} {c['complete'] + c['diverged']}/{len(self.todo)} done, {len(running)} running, "
            f"{c['failed']} failed, {queued} queued | {100 * frac:.0f}% of env steps | elapsed {elapsed / 60:.1f} min"
            f" | ETA {eta_s}",
            flush=True,
        )

    def summary(self) -> dict[str, int]:
        c = self.counts
        print(
            f"{self.prefix} finished in {(time.monotonic() - self.t0) / 60:.1f} min: {c['complete']} complete, "
            f"{c['diverged']} diverged, {c['failed']} failed, {c['skipped']} skipped",
            flush=True,
        )
        return dict(c)
