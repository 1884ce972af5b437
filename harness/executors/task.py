"""The body every cluster executor runs for one run, inside whatever process the engine gives it."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from .. import records

__all__ = ["execute_run"]


def execute_run(payload: dict[str, Any], threads: int, banner: str) -> str:
    """Train (or resume, or skip) the run described by ``payload`` (a ``RunSpec`` as JSON) in this
    process, with ``threads`` torch threads, its console output appended to ``stdout.log`` in its run
    directory; returns the final status. Exceptions propagate (the runner has recorded them)."""
    import torch

    from ..runner import RunSpec, prepare, train

    torch.set_num_threads(max(1, int(threads)))
    spec = RunSpec(**payload)
    d = records.run_dir(spec.out, spec.task, spec.algo, spec.seed)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "stdout.log", "a", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        print(f"[{banner}] pid {os.getpid()} on {os.uname().nodename}, {threads} torch thread(s)", flush=True)
        result = train(prepare(spec), log=lambda s: print(s, flush=True))
        print(f"[{banner}] {result.status}{' (already finished, skipped)' if result.skipped else ''}", flush=True)
    return result.status
