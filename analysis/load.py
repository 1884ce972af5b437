"""Load run records into tidy frames and validate that the evaluation grid is complete.

One row of the eval frame = one run x one evaluation point. Completeness means: every algorithm has
every task, every seed and every point of the task's eval grid (``manifest["budget"]["eval_grid"]``).
A hole is *reported* as an exact ``(algo, task, seed, env_steps)`` cell, never interpolated or dropped
silently.

Run-status policy (also in ``analysis/README.md``):

* ``complete``: every grid point must have a row with a finite ``return_mean``; otherwise a hole.
* ``diverged``: a result. Its recorded rows before divergence are used as they are; from the first
  non-finite ``return_mean`` (or the first grid point after its last row) on, each grid point is an
  *imputed* cell that scores the reference minimum (normalised 0, see :mod:`analysis.normalize`).
  Diverged runs and their imputed cells are counted and listed in the report.
* ``failed`` / ``running``: not a result (the sweep would resume them). Every grid point of such a run
  is a hole with the reason ``run failed: <error>``; the grid is incomplete.
* a run directory that does not exist: every grid point is a hole (reason ``no run``).

Only ``harness.records`` is imported from the harness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from harness.records import RecordError, find_runs, load_run

__all__ = [
    "Hole",
    "Completeness",
    "Records",
    "NoRecordsError",
    "IncompleteGridError",
    "load_records",
    "validate",
    "usable_frame",
    "require_complete",
    "restrict_to_complete",
]

RUN_COLUMNS = (
    "algo", "algorithm", "task", "suite", "seed", "status", "error", "sweep", "env_steps", "updates",
    "train_seconds", "eval_seconds", "compile_seconds", "wall_seconds", "peak_memory_mb",
    "env_steps_per_second", "budget_env_steps", "eval_grid", "eval_episodes", "num_envs", "outcome_names",
    "config_hash", "root_seed", "git_commit", "git_dirty", "device", "path", "reference", "eval_protocol",
)
EVAL_FRAME_COLUMNS = (
    "algo", "algorithm", "task", "suite", "seed", "status", "eval_index", "env_steps", "env_steps_actual",
    "updates", "train_seconds", "eval_seconds", "compile_seconds", "return_mean", "return_std",
    "stochastic_return_mean", "stochastic_return_std", "episode_length_mean", "returns", "outcomes",
    "stochastic_returns", "stochastic_outcomes", "extra", "peak_memory_mb", "imputed",
)


REFERENCE_ALGOS = ("zero_action", "random_action")
"""Algorithm names that are reference rows, not competitors (see :mod:`analysis.reference`)."""


class NoRecordsError(ValueError):
    """The results directory holds no run record."""


@dataclass(frozen=True, order=True)
class Hole:
    """One missing cell of the (algo, task, seed, eval point) grid, with the reason it is missing."""

    algo: str
    task: str
    seed: int
    env_steps: int
    reason: str = field(compare=False, default="missing")

    def __str__(self) -> str:
        return f"({self.algo}, {self.task}, seed {self.seed}, env_steps {self.env_steps}): {self.reason}"


@dataclass(frozen=True)
class Completeness:
    """Result of :func:`validate`: the expected grid and everything that deviates from it.

    ``diverged`` holds ``(algo, task, seed, first imputed env_steps or None)``; ``not_final`` holds
    ``(algo, task, seed, status, error)`` for failed/running runs; ``errors`` holds structural problems
    (eval-grid mismatch between runs of a task, duplicate rows, eval points off the grid).
    """

    algos: tuple[str, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    grids: dict[str, tuple[int, ...]]
    holes: tuple[Hole, ...]
    diverged: tuple[tuple[str, str, int, int | None], ...]
    not_final: tuple[tuple[str, str, int, str, str], ...]
    imputed: tuple[Hole, ...]
    errors: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """True when there is no hole and no structural error (diverged runs are allowed)."""
        return not self.holes and not self.errors

    @property
    def expected_cells(self) -> int:
        return len(self.algos) * len(self.seeds) * sum(len(self.grids[t]) for t in self.tasks)

    def describe(self, max_holes: int | None = 50) -> str:
        """Human-readable diagnostic (plain text, one item per line)."""
        lines = [
            f"algorithms: {', '.join(self.algos)}",
            f"tasks: {', '.join(self.tasks)}",
            f"seeds: {', '.join(map(str, self.seeds))}",
            f"expected cells (algo x task x seed x eval point): {self.expected_cells}",
            f"missing cells: {len(self.holes)}",
            f"diverged runs: {len(self.diverged)} (imputed cells scoring the reference minimum: {len(self.imputed)})",
            f"failed/unfinished runs: {len(self.not_final)}",
        ]
        for e in self.errors:
            lines.append(f"error: {e}")
        for a, t, s, st, err in self.not_final:
            lines.append(f"{st} run: ({a}, {t}, seed {s})" + (f": {err}" if err else ""))
        for a, t, s, step in self.diverged:
            where = f"from env_steps {step}" if step is not None else "after its last eval (no cell imputed)"
            lines.append(f"diverged run: ({a}, {t}, seed {s}) imputed {where}")
        shown = self.holes if max_holes is None else self.holes[:max_holes]
        for h in shown:
            lines.append(f"missing: {h}")
        if len(shown) < len(self.holes):
            lines.append(f"... and {len(self.holes) - len(shown)} more missing cells")
        return "\n".join(lines)


class IncompleteGridError(ValueError):
    """The grid has holes or structural errors. ``.holes`` lists the exact missing cells."""

    def __init__(self, completeness: Completeness):
        self.completeness = completeness
        self.holes = completeness.holes
        super().__init__("incomplete results grid\n" + completeness.describe(max_holes=None))


@dataclass(frozen=True)
class Records:
    """Raw records as frames: ``runs`` (one row per run, from manifests) and ``evals`` (run x eval row)."""

    runs: pd.DataFrame
    evals: pd.DataFrame


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _run_row(path: Path, m: dict[str, Any]) -> dict[str, Any]:
    clocks = m.get("clocks") or {}
    budget = m.get("budget") or {}
    spec = m.get("task_spec") or {}
    git = m.get("git") or {}
    task = m["task"]
    return {
        "algo": m["algo"],
        "algorithm": m.get("algorithm", m["algo"]),
        "task": task,
        "suite": m.get("suite") or task.split("/", 1)[0],
        "seed": int(m["seed"]),
        "status": m["status"],
        "error": m.get("error") or "",
        "sweep": m.get("sweep"),
        "env_steps": m.get("env_steps"),
        "updates": m.get("updates"),
        "train_seconds": clocks.get("train_seconds"),
        "eval_seconds": clocks.get("eval_seconds"),
        "compile_seconds": clocks.get("compile_seconds"),
        "wall_seconds": clocks.get("wall_seconds"),
        "peak_memory_mb": m.get("peak_memory_mb"),
        "env_steps_per_second": m.get("env_steps_per_second"),
        "budget_env_steps": budget.get("env_steps", spec.get("env_steps")),
        "eval_grid": tuple(int(x) for x in budget.get("eval_grid") or ()),
        "eval_episodes": budget.get("eval_episodes", spec.get("eval_episodes")),
        "num_envs": budget.get("num_envs", spec.get("num_envs")),
        "outcome_names": tuple(spec.get("outcomes") or ()),
        "config_hash": m.get("config_hash"),
        "root_seed": (m.get("seeds") or {}).get("root"),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "device": m.get("device"),
        "path": str(path),
        # Not a competitor (zero/random-action row): analysis.reference splits these runs off.
        "reference": bool(m.get("reference", False)) or m["algo"] in REFERENCE_ALGOS,
        # What "deterministic"/"stochastic"/extra modes mean for this run (None: records predate it).
        "eval_protocol": m.get("eval_protocol"),
    }


def load_records(results_dir: str | Path, *more_dirs: str | Path) -> Records:
    """Read every run below ``results_dir`` (``<suite>/<task>/<algo>/seed_<k>/``) into frames.

    ``more_dirs`` add the runs of other results directories (e.g. a baseline stored in another result
    set, so a new method is compared without re-training it); an (algo, task, seed) present in two
    directories raises :class:`harness.records.RecordError` naming both. Raises :class:`NoRecordsError`
    when a directory holds no run and :class:`harness.records.RecordError` on a malformed record
    (schema version, columns). Rows are sorted by (algo, task, seed, eval_index).
    """
    paths: list[Path] = []
    for d in (results_dir, *more_dirs):
        found = find_runs(d)
        if not found:
            raise NoRecordsError(f"no run records (seed_*/manifest.json) below {d}")
        paths.extend(found)
    runs, rows = [], []
    seen: dict[tuple[str, str, int], Path] = {}
    for p in paths:
        rec = load_run(p)
        try:
            run = _run_row(p, rec.manifest)
        except KeyError as e:
            raise RecordError(f"{p}/manifest.json: missing key {e}") from None
        key3 = (run["algo"], run["task"], run["seed"])
        if key3 in seen:
            raise RecordError(f"({key3[0]}, {key3[1]}, seed {key3[2]}) is recorded twice: {seen[key3]} and {p}; "
                              "combine result sets that do not overlap")
        seen[key3] = p
        runs.append(run)
        for r in rec.evals:
            row = {k: run[k] for k in ("algo", "algorithm", "task", "suite", "seed", "status")}
            row.update({k: r[k] for k in EVAL_FRAME_COLUMNS if k in r})
            row["imputed"] = False
            rows.append(row)
    key = ["algo", "task", "seed"]
    runs_df = pd.DataFrame(runs, columns=list(RUN_COLUMNS)).sort_values(key, kind="stable").reset_index(drop=True)
    evals_df = pd.DataFrame(rows, columns=list(EVAL_FRAME_COLUMNS))
    evals_df = evals_df.sort_values(key + ["eval_index"], kind="stable").reset_index(drop=True)
    return Records(runs_df, evals_df)


def _sorted(xs: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(set(xs)))


def validate(records: Records) -> Completeness:
    """Check that every algorithm has the same tasks, seeds and eval grid; apply the status policy.

    Expected cells are algos x tasks x seeds (each the union over all runs) x the task's eval grid (the
    union of ``budget.eval_grid`` over the task's runs; runs that disagree are a structural error).
    """
    runs, evals = records.runs, records.evals
    algos, tasks, seeds = _sorted(runs["algo"]), _sorted(runs["task"]), _sorted(runs["seed"])
    errors: list[str] = []
    grids: dict[str, tuple[int, ...]] = {}
    for task in tasks:
        task_runs = runs[runs["task"] == task]
        distinct = _sorted(task_runs["eval_grid"])
        grids[task] = _sorted(x for g in distinct for x in g)
        if len(distinct) > 1:
            detail = "; ".join(
                f"{r.algo} seed {r.seed}: {list(r.eval_grid)}" for r in task_runs.itertuples() if r.eval_grid != grids[task]
            )
            errors.append(f"eval grid mismatch on {task}: union {list(grids[task])}; {detail}")
    dup = runs.duplicated(["algo", "task", "seed"], keep=False)
    for r in runs[dup].itertuples():
        errors.append(f"duplicate run ({r.algo}, {r.task}, seed {r.seed}) at {r.path}")

    by_run = {k: g for k, g in evals.groupby(["algo", "task", "seed"], sort=True)}
    run_index = {(r.algo, r.task, r.seed): r for r in runs.drop_duplicates(["algo", "task", "seed"]).itertuples()}
    holes: list[Hole] = []
    imputed: list[Hole] = []
    diverged: list[tuple[str, str, int, int | None]] = []
    not_final: list[tuple[str, str, int, str, str]] = []
    for algo in algos:
        for task in tasks:
            grid = grids[task]
            for seed in seeds:
                run = run_index.get((algo, task, seed))
                if run is None:
                    holes.extend(Hole(algo, task, seed, s, "no run") for s in grid)
                    continue
                g = by_run.get((algo, task, seed))
                rows: dict[int, Any] = {}
                if g is not None:
                    counts = g["env_steps"].value_counts()
                    for s in sorted(counts[counts > 1].index):
                        errors.append(f"duplicate eval rows at env_steps {s} in ({algo}, {task}, seed {seed})")
                    off = sorted(set(g["env_steps"]) - set(grid))
                    if off:
                        errors.append(f"eval points {off} off the grid of {task} in ({algo}, {task}, seed {seed})")
                    rows = {int(r.env_steps): r for r in g.itertuples()}
                if run.status in ("failed", "running"):
                    not_final.append((algo, task, seed, run.status, run.error))
                    reason = f"run {run.status}" + (f": {run.error}" if run.error else "")
                    holes.extend(Hole(algo, task, seed, s, reason) for s in grid)
                    continue
                if run.status == "diverged":
                    first_bad = next((s for s in grid if s in rows and not _finite(rows[s].return_mean)), None)
                    last_row = max(rows) if rows else None
                    cut = first_bad
                    if cut is None:
                        after = [s for s in grid if last_row is None or s > last_row]
                        cut = after[0] if after else None
                    diverged.append((algo, task, seed, cut))
                    for s in grid:
                        if cut is not None and s >= cut:
                            imputed.append(Hole(algo, task, seed, s, "diverged: scores the reference minimum"))
                        elif s not in rows:
                            holes.append(Hole(algo, task, seed, s, "missing eval row"))
                    continue
                for s in grid:
                    if s not in rows:
                        holes.append(Hole(algo, task, seed, s, "missing eval row"))
                    elif not _finite(rows[s].return_mean):
                        holes.append(Hole(algo, task, seed, s, f"non-finite return_mean in a {run.status} run"))
    return Completeness(
        algos=algos,
        tasks=tasks,
        seeds=seeds,
        grids=grids,
        holes=tuple(sorted(holes)),
        diverged=tuple(diverged),
        not_final=tuple(not_final),
        imputed=tuple(sorted(imputed)),
        errors=tuple(errors),
    )


def require_complete(completeness: Completeness) -> None:
    """Raise :class:`IncompleteGridError` (listing the exact missing cells) unless the grid is complete."""
    if not completeness.complete:
        raise IncompleteGridError(completeness)


def usable_frame(records: Records, completeness: Completeness) -> pd.DataFrame:
    """Eval frame of the usable cells: rows of complete/diverged runs plus one ``imputed`` row per
    imputed cell of a diverged run (returns NaN here; :func:`analysis.normalize.normalize` fills them
    with the reference minimum). Rows of failed/running runs and hole cells are excluded (they are
    listed in ``completeness.holes``)."""
    ev = records.evals
    bad_runs = {(a, t, s) for a, t, s, _, _ in completeness.not_final}
    imputed = {(h.algo, h.task, h.seed, h.env_steps) for h in completeness.imputed}
    holes = {(h.algo, h.task, h.seed, h.env_steps) for h in completeness.holes}
    keys = list(zip(ev["algo"], ev["task"], ev["seed"], ev["env_steps"]))
    keep = [(k[:3] not in bad_runs) and (k not in imputed) and (k not in holes) for k in keys]
    frame = ev[keep].copy()
    if imputed:
        meta = records.runs.drop_duplicates(["algo", "task", "seed"]).set_index(["algo", "task", "seed"])
        extra_rows = []
        for a, t, s, step in sorted(imputed):
            m = meta.loc[(a, t, s)]
            grid = completeness.grids[t]
            extra_rows.append({
                "algo": a, "algorithm": m["algorithm"], "task": t, "suite": m["suite"], "seed": s,
                "status": m["status"], "eval_index": grid.index(step), "env_steps": step,
                "env_steps_actual": step, "updates": math.nan, "train_seconds": math.nan,
                "eval_seconds": math.nan, "compile_seconds": math.nan, "return_mean": math.nan,
                "return_std": math.nan, "stochastic_return_mean": math.nan, "stochastic_return_std": math.nan,
                "episode_length_mean": math.nan, "returns": [], "outcomes": [], "stochastic_returns": [],
                "stochastic_outcomes": [], "extra": {}, "peak_memory_mb": math.nan, "imputed": True,
            })
        frame = pd.concat([frame, pd.DataFrame(extra_rows, columns=list(EVAL_FRAME_COLUMNS))], ignore_index=True)
    frame["eval_index"] = [completeness.grids[t].index(int(s)) for t, s in zip(frame["task"], frame["env_steps"])]
    frame = frame.sort_values(["algo", "task", "seed", "env_steps"], kind="stable").reset_index(drop=True)
    return frame


def restrict_to_complete(frame: pd.DataFrame, completeness: Completeness) -> tuple[pd.DataFrame, list[str]]:
    """For ``--allow-incomplete``: keep, per algorithm, only the seeds that are complete on every task.

    Rliable needs a rectangular (runs x tasks) matrix per algorithm, so a seed with any hole on any task
    is left out for that algorithm; an algorithm with no complete seed is left out entirely. Returns the
    restricted frame and a list of what was left out (for the report; nothing is dropped silently).
    """
    bad = {(h.algo, h.seed) for h in completeness.holes}
    notes: list[str] = []
    parts = []
    for algo in completeness.algos:
        keep = [s for s in completeness.seeds if (algo, s) not in bad]
        dropped = [s for s in completeness.seeds if (algo, s) in bad]
        if dropped:
            notes.append(f"{algo}: seeds {dropped} left out of every statistic (holes on some task)")
        if not keep:
            notes.append(f"{algo}: no seed is complete on every task; {algo} is left out entirely")
            continue
        parts.append(frame[(frame["algo"] == algo) & frame["seed"].isin(keep)])
    out = pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0].copy()
    return out, notes
