"""Sweep executors beyond the local worker pool: Ray (an existing Ray cluster) and Slurm (through
submitit), their typed options, a records-based status report, and throwaway single-node clusters
for tests and benchmarks.

Every executor runs the same idempotent unit ``(spec, algo, task, seed)`` through
``harness.runner``: finished runs are skipped, interrupted ones resume from their checkpoint, and the
records under ``--out`` are the only state shared between the driver and the runs.
"""

from .options import ExecutorOptionError, RayOptions, SlurmOptions

__all__ = ["ExecutorOptionError", "RayOptions", "SlurmOptions"]
