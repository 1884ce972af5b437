"""Normalise returns with the fixed reference table ``suites/reference_scores.toml``.

``score = (return - min) / (max - min)`` per task. The table is fixed in advance and never computed
from the results, so adding an algorithm never changes another algorithm's normalised score. A task
with no entry is an error naming it (:class:`MissingReferenceError`).

Imputed cells of diverged runs (see :mod:`analysis.load`) score the reference minimum: their raw
returns are set to ``min`` and their normalised score to 0.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "Reference",
    "MissingReferenceError",
    "DEFAULT_TABLE",
    "load_reference_table",
    "check_tasks",
    "normalize_value",
    "normalize",
]

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "suites" / "reference_scores.toml"
"""``suites/reference_scores.toml`` next to the ``analysis`` package (read as a file: importing the
``suites`` package could pull in simulators)."""

RETURN_COLUMNS = ("return_mean", "stochastic_return_mean")


class MissingReferenceError(KeyError):
    """A task has no entry in the reference table."""

    def __init__(self, tasks: Iterable[str], table: str | Path = DEFAULT_TABLE):
        self.tasks = tuple(tasks)
        msg = f"no reference score for task(s) {', '.join(self.tasks)} in {table}; add min, max and provenance there"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass(frozen=True)
class Reference:
    """Normalisation bounds of one task and where they come from."""

    task: str
    min: float
    max: float
    provenance: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.max <= self.min:
            raise ValueError(f"reference for {self.task}: need finite min < max, got {self.min}, {self.max}")


def load_reference_table(path: str | Path | None = None) -> dict[str, Reference]:
    """Parse the reference table (TOML ``[tasks."<suite>/<task>"]`` with ``min``, ``max``, ``provenance``)."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    with open(path, "rb") as f:
        data = tomllib.load(f)
    table = {}
    for task, entry in data.get("tasks", {}).items():
        try:
            table[task] = Reference(task, float(entry["min"]), float(entry["max"]), str(entry["provenance"]))
        except KeyError as e:
            raise ValueError(f"{path}: entry {task!r} lacks {e}") from None
    return table


def check_tasks(tasks: Iterable[str], table: Mapping[str, Reference], path: str | Path = DEFAULT_TABLE) -> None:
    """Raise :class:`MissingReferenceError` naming every task absent from ``table``."""
    missing = sorted({t for t in tasks if t not in table})
    if missing:
        raise MissingReferenceError(missing, path)


def normalize_value(x: float | np.ndarray, ref: Reference) -> float | np.ndarray:
    """``(x - min) / (max - min)``."""
    return (np.asarray(x, dtype=float) - ref.min) / (ref.max - ref.min)


def normalize(frame: pd.DataFrame, table: Mapping[str, Reference]) -> pd.DataFrame:
    """Copy of ``frame`` with ``score`` (deterministic) and ``stochastic_score`` columns added.

    Imputed rows (``imputed == True``) get raw returns = reference min and scores = 0.
    """
    check_tasks(frame["task"].unique(), table)
    out = frame.copy()
    lo = out["task"].map(lambda t: table[t].min).astype(float)
    hi = out["task"].map(lambda t: table[t].max).astype(float)
    imputed = out["imputed"].astype(bool) if "imputed" in out else pd.Series(False, index=out.index)
    for col in RETURN_COLUMNS:
        out[col] = out[col].astype(float).where(~imputed, lo)
    out["score"] = (out["return_mean"] - lo) / (hi - lo)
    out["stochastic_score"] = (out["stochastic_return_mean"] - lo) / (hi - lo)
    return out
