"""Helpers of the bitwise-resume tests (``test_harness_resume_exact*.py``), as the ``resume`` fixture
(tests are imported in importlib mode, so they cannot import this module): run a
prepared run to the end without interruption, or with interruptions at chosen points (an exception
raised from inside the training loop: at the k-th ``act`` or the k-th ``update`` after a (re)start),
resuming from the checkpoint each time, and compare the records.

An in-process interruption leaves exactly what a SIGKILL leaves on disk (the records are written
only at evaluation points, the checkpoint atomically), so it exercises the same resume path at a
chosen point; ``test_harness_resume_exact.py`` also SIGKILLs real processes at random times.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any, Callable

import pytest

from harness import records
from harness.runner import Prepared, RunSpec, prepare, train

CLOCK_COLUMNS = ("train_seconds", "eval_seconds", "compile_seconds", "peak_memory_mb")


class Interrupted(Exception):
    """Stands for a kill: raised from inside the training loop."""


class _Killer:
    """Wraps an agent: raises ``Interrupted`` at the ``at``-th call of ``where`` (``act`` or ``update``)."""

    def __init__(self, agent: Any, where: str, at: int):
        self._agent, self._where, self._at, self._n = agent, where, at, 0

    def _tick(self, where: str) -> None:
        if where == self._where:
            self._n += 1
            if self._n == self._at:
                raise Interrupted(f"interrupted at {where} #{self._at}")

    def act(self, obs):
        self._tick("act")
        return self._agent.act(obs)

    def update(self):
        out = self._agent.update()  # the update ran: its effect is lost with the process
        self._tick("update")
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agent, name)


def _with_killer(prep: Prepared, where: str, at: int) -> Prepared:
    factory = prep.algo.factory

    def make(*args: Any, **kw: Any) -> Any:
        return _Killer(factory(*args, **kw), where, at)

    return dataclasses.replace(prep, algo=dataclasses.replace(prep.algo, factory=make))


def records_without_clocks(path: Path) -> dict[str, Any]:
    """evals.csv rows, the train log and the probe rows of a run, clock and memory columns dropped."""
    rows = [{k: v for k, v in r.items() if k not in CLOCK_COLUMNS} for r in records.read_eval_rows(path)]
    log = [{k: v for k, v in e.items() if k not in CLOCK_COLUMNS} for e in records.read_train_log(path)]
    probes = (path / "probes.jsonl").read_text() if (path / "probes.jsonl").exists() else ""
    return {"evals": rows, "train_log": log, "probes": probes}


def run_uninterrupted(spec: RunSpec, adapt: Callable[[Prepared], Prepared] = lambda p: p) -> Path:
    result = train(adapt(prepare(spec)))
    assert result.status == "complete", records.read_manifest(result.path).get("error")
    return result.path


def run_interrupted(
    spec: RunSpec, rng: random.Random, kills: int, acts: int, updates: int,
    adapt: Callable[[Prepared], Prepared] = lambda p: p,
) -> tuple[Path, list[str]]:
    """Run ``spec`` with ``kills`` interruptions at random points (an ``act`` among the first ``acts``
    or an ``update`` among the first ``updates`` after each (re)start), then to the end."""
    done: list[str] = []
    for _ in range(kills):
        where = "update" if updates > 0 and rng.random() < 0.3 else "act"
        at = rng.randint(1, updates if where == "update" else acts)
        try:
            result = train(_with_killer(adapt(prepare(spec)), where, at))
        except Interrupted:
            m = records.read_manifest(records.run_dir(spec.out, spec.task, spec.algo, spec.seed))
            done.append(f"{where} #{at} after {m['env_steps']} recorded env steps")
            continue
        done.append(f"{where} #{at}: never reached, run complete")
        assert result.status == "complete"
        break
    result = train(adapt(prepare(spec)))
    assert result.status == "complete", records.read_manifest(result.path).get("error")
    return result.path, done


def assert_same_records(a: Path, b: Path, what: str) -> None:
    ra, rb = records_without_clocks(a), records_without_clocks(b)
    for key in ("evals", "train_log", "probes"):
        if ra[key] != rb[key]:
            diff = next((i, x, y) for i, (x, y) in enumerate(zip(ra[key], rb[key])) if x != y) \
                if isinstance(ra[key], list) and len(ra[key]) == len(rb[key]) else (len(ra[key]), len(rb[key]))
            raise AssertionError(f"{what}: {key} differ from the uninterrupted run: "
                                 f"{json.dumps(diff, default=str)[:2000]}")


@pytest.fixture
def resume():
    """The helpers above."""
    import types

    return types.SimpleNamespace(run_uninterrupted=run_uninterrupted, run_interrupted=run_interrupted,
                                 assert_same_records=assert_same_records, records_without_clocks=records_without_clocks,
                                 Interrupted=Interrupted)
