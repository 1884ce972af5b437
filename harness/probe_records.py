"""Probe-sample records: ``probes.jsonl`` beside ``evals.csv`` in a run directory.

At every evaluation point of a task that declares probe states, evaluation draws ``M`` actions from
the stochastic (behaviour) policy at each probe state (:mod:`harness.probes`); this module stores
them, one JSON line per evaluation point, appended, flushed and fsynced like ``evals.csv``. It is a
separate file so the ``evals.csv`` row schema does not change: runs without probes (every non-toy
task, every record written before probes existed) simply have no ``probes.jsonl``.

Line format (``schema_version`` 1)::

    {"schema_version": 1, "eval_index": 2, "env_steps": 40000,
     "probes": [{"name": "start", "obs": [0.0, 0.0], "actions": [[0.12, -0.5], ...]}, ...]}

Pure standard library (no torch, no numpy), so ``analysis`` reads it on a machine without any
simulator, exactly like :mod:`harness.records`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .records import RecordError, atomic_write_text

__all__ = ["PROBES_SCHEMA_VERSION", "PROBES_FILE", "ProbeSamples", "ProbeRow", "append_probe_row",
           "read_probe_rows", "truncate_probe_rows"]

PROBES_SCHEMA_VERSION = 1
PROBES_FILE = "probes.jsonl"


@dataclass(frozen=True)
class ProbeSamples:
    """Actions sampled from the stochastic policy at one probe state."""

    name: str
    """Task-given probe name, e.g. ``"start"``."""
    obs: tuple[float, ...]
    """The observation the policy was queried at."""
    actions: tuple[tuple[float, ...], ...]
    """``M`` sampled actions, each in [-1, 1]^A."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "obs": list(self.obs), "actions": [list(a) for a in self.actions]}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> "ProbeSamples":
        return ProbeSamples(str(d["name"]), tuple(float(x) for x in d["obs"]),
                            tuple(tuple(float(x) for x in a) for a in d["actions"]))


@dataclass(frozen=True)
class ProbeRow:
    """All probe samples of one evaluation point."""

    eval_index: int
    env_steps: int
    """Scheduled evaluation point (the same grid as ``evals.csv``)."""
    probes: tuple[ProbeSamples, ...]

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": PROBES_SCHEMA_VERSION, "eval_index": self.eval_index,
                "env_steps": self.env_steps, "probes": [p.to_json() for p in self.probes]}

    @staticmethod
    def from_json(d: Mapping[str, Any], where: str = "probes.jsonl") -> "ProbeRow":
        if d.get("schema_version") != PROBES_SCHEMA_VERSION:
            raise RecordError(f"{where}: probes schema_version {d.get('schema_version')!r}, this dpbench reads "
                              f"version {PROBES_SCHEMA_VERSION}")
        try:
            return ProbeRow(int(d["eval_index"]), int(d["env_steps"]),
                            tuple(ProbeSamples.from_json(p) for p in d["probes"]))
        except (KeyError, TypeError, ValueError) as e:
            raise RecordError(f"{where}: malformed probe row ({e})") from None


def _line(row: ProbeRow) -> str:
    return json.dumps(row.to_json(), separators=(",", ":")) + "\n"


def append_probe_row(directory: str | os.PathLike, row: ProbeRow) -> None:
    """Append one evaluation point's probe samples to ``probes.jsonl``, flushed and fsynced."""
    with open(Path(directory) / PROBES_FILE, "a", encoding="utf-8") as f:
        f.write(_line(row))
        f.flush()
        os.fsync(f.fileno())


def read_probe_rows(directory: str | os.PathLike) -> list[ProbeRow]:
    """Parse ``probes.jsonl`` ([] if absent); a torn last line (crash mid-write) is ignored."""
    path = Path(directory) / PROBES_FILE
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if text and not text.endswith("\n"):
        lines = lines[:-1]
    rows = []
    for i, line in enumerate(lines, start=1):
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(f"{path}:{i}: not valid JSON ({e})") from None
        rows.append(ProbeRow.from_json(d, f"{path}:{i}"))
    return rows


def truncate_probe_rows(directory: str | os.PathLike, keep: int) -> None:
    """Atomically keep only rows with ``eval_index < keep`` (used on resume, like ``evals.csv``)."""
    path = Path(directory) / PROBES_FILE
    if not path.exists():
        return
    rows = [r for r in read_probe_rows(directory) if r.eval_index < keep]
    atomic_write_text(path, "".join(_line(r) for r in rows))
