"""Run records: ``manifest.json`` + ``evals.csv`` (+ ``train_log.jsonl``, ``checkpoint.pt``) per run.

Layout: ``OUT/<suite>/<task>/<algo>/seed_<k>/``. Pure standard library (no torch, no numpy), so
``analysis`` can read records on a machine without any simulator.

* ``manifest.json`` is rewritten whole, atomically (temp file + fsync + rename).
* ``evals.csv`` and ``train_log.jsonl`` are appended one line at a time and flushed + fsynced.
* ``schema_version`` is stored in the manifest and checked on load.
* Normalised scores are never stored: analysis computes them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "SCHEMA_VERSION",
    "EVAL_COLUMNS",
    "STATUSES",
    "FINAL_STATUSES",
    "RecordError",
    "RunRecord",
    "run_dir",
    "atomic_write_text",
    "write_manifest",
    "read_manifest",
    "append_eval_row",
    "read_eval_rows",
    "truncate_eval_rows",
    "append_train_log",
    "read_train_log",
    "load_run",
    "find_runs",
]

SCHEMA_VERSION = 1

STATUSES = ("running", "complete", "failed", "diverged")
FINAL_STATUSES = ("complete", "diverged")
"""A run in one of these states is a result; ``running`` (killed) and ``failed`` runs are resumed."""

EVAL_COLUMNS = (
    "eval_index",  # 0..E-1 on the task's fixed schedule
    "env_steps",  # scheduled evaluation point (the shared grid): eval_index * eval_every, last = budget
    "env_steps_actual",  # env steps actually consumed when the evaluation ran (>= env_steps)
    "updates",  # update() calls (off-policy: gradient steps) so far
    "train_seconds",  # training wall-clock so far, excluding evaluation and compile/warm-up
    "eval_seconds",  # cumulative evaluation wall-clock
    "compile_seconds",  # first-call JIT / warm-up time (simulator compile), kept apart
    "return_mean",  # deterministic policy: mean episode return
    "return_std",
    "returns",  # JSON list of per-episode returns (deterministic)
    "outcomes",  # JSON list of per-episode outcomes (deterministic), [] where the task has none
    "episode_length_mean",
    "stochastic_return_mean",  # stochastic (training) policy
    "stochastic_return_std",
    "stochastic_returns",
    "stochastic_outcomes",
    "extra",  # JSON dict {mode: {"return_mean", "returns", "outcomes"}} of agent-specific eval modes
    "peak_memory_mb",  # peak resident memory of the process (and CUDA memory if used) so far
)
_JSON_COLUMNS = ("returns", "outcomes", "stochastic_returns", "stochastic_outcomes", "extra")
_INT_COLUMNS = ("eval_index", "env_steps", "env_steps_actual", "updates")


class RecordError(ValueError):
    """A record that is missing, malformed or of an unknown schema version."""


def run_dir(out: str | os.PathLike, task: str, algo: str, seed: int) -> Path:
    """``OUT/<suite>/<task>/<algo>/seed_<k>`` for task name ``"<suite>/<task>"``."""
    suite, short = task.split("/", 1)
    return Path(out) / suite / short / algo / f"seed_{int(seed)}"


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_manifest(directory: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    """Atomically (re)write ``manifest.json``; stamps the schema version."""
    data = dict(manifest)
    data["schema_version"] = SCHEMA_VERSION
    if data.get("status") not in STATUSES:
        raise RecordError(f"manifest status {data.get('status')!r} not in {STATUSES}")
    atomic_write_text(Path(directory) / "manifest.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def _check_schema(data: Mapping[str, Any], where: Path) -> None:
    v = data.get("schema_version")
    if v != SCHEMA_VERSION:
        raise RecordError(f"{where}: schema_version {v!r}, this dpbench reads version {SCHEMA_VERSION}")


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """Load and schema-check ``manifest.json``."""
    path = Path(directory) / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}: not valid JSON ({e})") from None
    _check_schema(data, path)
    return data


def _encode_row(row: Mapping[str, Any]) -> str:
    missing = [c for c in EVAL_COLUMNS if c not in row]
    if missing:
        raise RecordError(f"eval row lacks columns {missing}")
    values = []
    for c in EVAL_COLUMNS:
        v = row[c]
        values.append(json.dumps(v) if c in _JSON_COLUMNS else v)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def append_eval_row(directory: str | os.PathLike, row: Mapping[str, Any]) -> None:
    """Append one evaluation row to ``evals.csv`` (header on first write), flushed and fsynced."""
    path = Path(directory) / "evals.csv"
    new = not path.exists() or path.stat().st_size == 0
    line = _encode_row(row)
    with open(path, "a", encoding="utf-8", newline="") as f:
        if new:
            f.write(",".join(EVAL_COLUMNS) + "\n")
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def _decode_row(raw: Mapping[str, str], path: Path, lineno: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    try:
        for c in EVAL_COLUMNS:
            v = raw[c]
            if c in _JSON_COLUMNS:
                row[c] = json.loads(v)
            elif c in _INT_COLUMNS:
                row[c] = int(v)
            else:
                row[c] = float(v)
    except (KeyError, ValueError, TypeError) as e:
        raise RecordError(f"{path}:{lineno}: malformed row ({e})") from None
    return row


def read_eval_rows(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Parse ``evals.csv``; a torn last line (crash mid-write) is ignored, any other damage raises."""
    path = Path(directory) / "evals.csv"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    torn = bool(text) and not text.endswith("\n")
    lines = text.splitlines(keepends=True)
    if torn:
        lines = lines[:-1]
    if not lines:
        return []
    reader = csv.DictReader(lines)
    header = tuple(reader.fieldnames or ())
    if header != EVAL_COLUMNS:
        raise RecordError(f"{path}: columns {header} differ from schema v{SCHEMA_VERSION} {EVAL_COLUMNS}")
    return [_decode_row(r, path, i + 2) for i, r in enumerate(reader)]


def truncate_eval_rows(directory: str | os.PathLike, keep: int) -> None:
    """Atomically rewrite ``evals.csv`` keeping its first ``keep`` rows (used on resume)."""
    rows = read_eval_rows(directory)[:keep]
    text = ",".join(EVAL_COLUMNS) + "\n" + "".join(_encode_row(r) for r in rows)
    atomic_write_text(Path(directory) / "evals.csv", text)


def append_train_log(directory: str | os.PathLike, entry: Mapping[str, Any]) -> None:
    """Append one JSON line of training diagnostics to ``train_log.jsonl``."""
    with open(Path(directory) / "train_log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_train_log(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """Parse ``train_log.jsonl`` (a torn last line is ignored)."""
    path = Path(directory) / "train_log.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


@dataclass(frozen=True)
class RunRecord:
    """One run as stored: its manifest and its evaluation rows."""

    path: Path
    manifest: dict[str, Any]
    evals: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return self.manifest["status"]


def load_run(directory: str | os.PathLike) -> RunRecord:
    """Load one run directory (schema-checked)."""
    d = Path(directory)
    return RunRecord(d, read_manifest(d), read_eval_rows(d))


def find_runs(root: str | os.PathLike) -> list[Path]:
    """Every run directory (one holding ``manifest.json``) below ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("manifest.json") if p.parent.name.startswith("seed_"))


def rows_to_columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Column-wise view of eval rows (handy for quick plots without pandas)."""
    rows = list(rows)
    return {c: [r[c] for r in rows] for c in EVAL_COLUMNS}
