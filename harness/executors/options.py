"""Typed, validated options of the cluster executors (frozen dataclasses).

Validation happens here, before anything is submitted or written: a bad value raises
``ExecutorOptionError`` naming the option, the value and what is allowed (the CLI exits 2).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

__all__ = ["ExecutorOptionError", "RayOptions", "SlurmOptions", "check_shared_out"]


class ExecutorOptionError(ValueError):
    """A bad executor option (the CLI turns it into exit status 2)."""


_ADDRESS = re.compile(r"^(auto|local|(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5})$")


def check_shared_out(out: str | None, executor: str) -> str:
    """A cluster executor writes records from many nodes: ``--out`` must be given and absolute."""
    if not out:
        raise ExecutorOptionError(
            f"--executor {executor} needs --out: an absolute path on storage every node sees "
            f"(e.g. --out {os.getcwd()}/runs/<sweep>)"
        )
    if not os.path.isabs(out):
        raise ExecutorOptionError(
            f"--executor {executor}: --out {out!r} is relative, so it would resolve differently on each node; "
            f"give an absolute path on shared storage, e.g. --out {os.path.abspath(out)}"
        )
    return os.path.normpath(out)


@dataclass(frozen=True)
class RayOptions:
    """How each run becomes one Ray task."""

    address: str = "auto"
    """``auto`` (the cluster this machine belongs to, from ``ray start``), ``HOST:PORT`` (a head
    node's GCS address), ``ray://HOST:PORT`` (Ray Client) or ``local`` (start a private one-machine
    Ray for this sweep only)."""
    cpus_per_run: float = 1.0
    """Ray CPUs reserved by each run; also the torch thread count of the run (rounded up, >= 1)."""
    gpus_per_run: float = 0.0
    """Ray GPUs per run: 0, a fraction below 1 (several small runs share a GPU), or a whole number."""
    max_retries: int = 3
    """Ray re-executes a run this many times after its worker process or node dies; the retry
    resumes from the run's last checkpoint. Python errors inside a run are not retried."""

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.address, str) or not _ADDRESS.match(self.address):
            problems.append(f"--address {self.address!r}: allowed: auto, local, HOST:PORT, ray://HOST:PORT")
        if not (isinstance(self.cpus_per_run, (int, float)) and math.isfinite(self.cpus_per_run) and self.cpus_per_run > 0):
            problems.append(f"--cpus-per-run {self.cpus_per_run!r}: must be a number > 0")
        g = self.gpus_per_run
        if not (isinstance(g, (int, float)) and math.isfinite(g) and g >= 0):
            problems.append(f"--gpus-per-run {g!r}: must be a number >= 0")
        elif g > 1 and g != int(g):
            problems.append(f"--gpus-per-run {g!r}: above 1 it must be a whole number (Ray packs fractions only below 1)")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            problems.append(f"--max-retries {self.max_retries!r}: must be an integer >= 0")
        if problems:
            raise ExecutorOptionError("bad Ray option(s):\n  - " + "\n  - ".join(problems))

    @property
    def threads(self) -> int:
        return max(1, math.ceil(self.cpus_per_run))


_TIME = re.compile(r"^(?:(?P<d>\d+)-)?(?:(?P<h>\d+):)?(?P<m>\d+)(?::(?P<s>\d+))?$")
_MEM = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<u>[KMGT]?)B?$", re.IGNORECASE)
_SBATCH_FLAG = re.compile(r"^--(?P<k>[a-z][a-z0-9\-]*)(?:=(?P<v>.+))?$")
# Flags the executor sets itself from typed options (or submitit owns): not accepted as extras.
_OWNED = {"array", "output", "error", "job-name", "partition", "account", "time", "cpus-per-task", "mem",
          "gpus-per-task", "gpus-per-node", "ntasks-per-node", "nodes", "signal", "wrap", "open-mode"}


def parse_time_minutes(text: str) -> int:
    """Slurm time syntax (``MM``, ``HH:MM:SS``, ``D-HH:MM``, ...) -> whole minutes (>= 1)."""
    m = _TIME.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ExecutorOptionError(f"--time {text!r}: allowed: MINUTES, HH:MM:SS, D-HH:MM (Slurm time syntax)")
    d, h, mi, s = (int(m.group(k) or 0) for k in ("d", "h", "m", "s"))
    if m.group("h") is None and m.group("s") is not None:  # MM:SS
        h, mi, s = 0, mi, s
    minutes = d * 1440 + h * 60 + mi + math.ceil(s / 60)
    if minutes < 1:
        raise ExecutorOptionError(f"--time {text!r}: must be at least one minute")
    return minutes


def parse_mem_gb(text: str) -> float:
    """``16G``, ``16000M``, ``1T`` (Slurm memory syntax; bare numbers are MB, as in sbatch) -> GB."""
    m = _MEM.match(text.strip()) if isinstance(text, str) else None
    if not m or float(m.group("n")) <= 0:
        raise ExecutorOptionError(f"--mem {text!r}: allowed: a positive size such as 4000M, 16G, 1T")
    scale = {"K": 1 / 2**20, "M": 1 / 1024, "": 1 / 1024, "G": 1.0, "T": 1024.0}[m.group("u").upper()]
    return float(m.group("n")) * scale


def parse_sbatch_flags(flags: tuple[str, ...]) -> dict[str, str | None]:
    """``--sbatch-flag=--qos=high`` style extras -> submitit's ``slurm_additional_parameters``."""
    out: dict[str, str | None] = {}
    for f in flags:
        m = _SBATCH_FLAG.match(f.strip()) if isinstance(f, str) else None
        if not m:
            raise ExecutorOptionError(f"--sbatch {f!r}: allowed: a long sbatch flag such as --qos=high or --exclusive")
        key = m.group("k")
        if key in _OWNED:
            raise ExecutorOptionError(
                f"--sbatch {f!r}: --{key} is set by dpbench from its own options or by submitit; "
                "use --partition/--account/--time/--cpus-per-run/--gpus-per-run/--mem instead"
            )
        out[key.replace("-", "_")] = m.group("v")
    return out


@dataclass(frozen=True)
class SlurmOptions:
    """One Slurm job array per sweep (one array task per run), submitted through submitit."""

    partition: str | None = None
    account: str | None = None
    time: str = "4:00:00"
    """Per-task time limit (Slurm syntax). At the limit submitit checkpoints and requeues the task,
    which resumes from the run's last checkpoint."""
    cpus_per_run: int = 1
    gpus_per_run: int = 0
    mem: str | None = None
    """Memory per task (``16G``); unset: the partition's default."""
    array_parallelism: int = 64
    """At most this many array tasks run at once (``--array=0-N%K``)."""
    max_requeues: int = 3
    """Time-limit requeues allowed per task (preemption requeues are not limited, as in submitit)."""
    sbatch: tuple[str, ...] = field(default_factory=tuple)
    """Extra sbatch flags, e.g. ``("--qos=high", "--constraint=a100")``."""
    folder: str | None = None
    """Where submitit keeps job scripts, pickles and logs (default: ``OUT/.slurm``)."""

    def __post_init__(self) -> None:
        problems = []
        for flag, text in (("--partition", self.partition), ("--account", self.account)):
            if text is not None and (not isinstance(text, str) or not re.match(r"^[A-Za-z0-9_.\-,]+$", text)):
                problems.append(f"{flag} {text!r}: allowed: a Slurm name (letters, digits, _ . - ,)")
        for name, v, lo in (("--cpus-per-run", self.cpus_per_run, 1), ("--gpus-per-run", self.gpus_per_run, 0),
                            ("--slurm-array-parallelism", self.array_parallelism, 1),
                            ("--max-requeues", self.max_requeues, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                extra = " (Slurm allocates whole GPUs; pack small runs with the Ray executor)" if name == "--gpus-per-run" else ""
                problems.append(f"{name} {v!r}: must be an integer >= {lo}{extra}")
        for check in (lambda: parse_time_minutes(self.time), lambda: self.mem and parse_mem_gb(self.mem),
                      lambda: parse_sbatch_flags(self.sbatch)):
            try:
                check()
            except ExecutorOptionError as e:
                problems.append(str(e))
        if problems:
            raise ExecutorOptionError("bad Slurm option(s):\n  - " + "\n  - ".join(problems))

    @property
    def timeout_min(self) -> int:
        return parse_time_minutes(self.time)

    def submitit_parameters(self, job_name: str) -> dict[str, object]:
        """The ``executor.update_parameters(**...)`` keywords for submitit's AutoExecutor."""
        p: dict[str, object] = {
            "name": job_name,
            "timeout_min": self.timeout_min,
            "cpus_per_task": self.cpus_per_run,
            "tasks_per_node": 1,
            "nodes": 1,
            "slurm_array_parallelism": self.array_parallelism,
        }
        if self.gpus_per_run:
            p["slurm_gpus_per_task"] = self.gpus_per_run
        if self.partition:
            p["slurm_partition"] = self.partition
        if self.account:
            p["slurm_account"] = self.account
        if self.mem:
            p["mem_gb"] = parse_mem_gb(self.mem)
        extra = parse_sbatch_flags(self.sbatch)
        if extra:
            p["slurm_additional_parameters"] = extra
        return p
