"""Helpers of the bitwise-resume tests (``test_harness_resume_exact*.py``), as the ``resume`` fixture
(tests are imported in importlib mode, so they cannot import this module): run a
prepared run to the end without interruption, or with interruptions at chosen points (an exception
raised from inside the training loop: at the k-th ``act`` after a (re)start, or in the update after it),
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
    """Wraps an agent: raises ``Interrupted`` at its ``at``-th ``act`` (``where="act"``), or at the end
    of the first ``update`` after it (``where="update"``: the update ran, its effect dies with the run)."""

    def __init__(self, agent: Any, where: str, at: int):
        self._agent, self._where, self._at, self._acts = agent, where, at, 0

    def act(self, obs):
        self._acts += 1
        if self._where == "act" and self._acts == self._at:
            raise Interrupted(f"interrupted at act #{self._at}")
        return self._agent.act(obs)

    def update(self):
        out = self._agent.update()
        if self._where == "update" and self._acts >= self._at:
            raise Interrupted(f"interrupted in the first update after act #{self._at}")
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
    spec: RunSpec, rng: random.Random, kills: int, per_act: int,
    adapt: Callable[[Prepared], Prepared] = lambda p: p,
) -> tuple[Path, list[str]]:
    """Run ``spec`` with ``kills`` interruptions at random points, then to the end. Each one picks a
    random ``act`` among those left after the checkpoint it resumes from (``per_act`` env steps per
    act) and raises there, or (from the second on, with probability 1/3) at the first ``update``
    after it (a kill past the last update lets the run complete)."""
    done: list[str] = []
    run_dir = records.run_dir(spec.out, spec.task, spec.algo, spec.seed)
    budget = spec.env_steps
    assert budget is not None
    for i in range(kills):
        try:
            recorded = int(records.read_manifest(run_dir)["env_steps"])
        except records.RecordError:
            recorded = 0
        left = max(1, (budget - recorded) // per_act)
        where = "update" if i > 0 and rng.random() < 1 / 3 else "act"
        at = rng.randint(1, left)
        try:
            result = train(_with_killer(adapt(prepare(spec)), where, at))
        except Interrupted:
            m = records.read_manifest(run_dir)
            done.append(f"{where} after act #{at} of {left} left, {m['env_steps']} env steps recorded")
            continue
        done.append(f"{where} after act #{at}: no update followed, run complete")
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
