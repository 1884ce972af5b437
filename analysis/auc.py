"""Curve-based score: the area under each run's normalised learning curve.

Definition (issue 18, DESIGN.md "Evaluation protocol"): the AUC of a run is the **mean over every
point of the task's eval grid** (``env_steps`` 0 included) of the run's normalised score, so it lies
in the same units as the final-point score (0 = reference minimum, 1 = reference maximum) and weighs
every evaluation equally. On an evenly spaced grid it is the area under the step curve divided by
the budget; it is not the trapezoid rule (the endpoints are not halved). Imputed cells of a diverged
run score 0 like everywhere else, so an early divergence lowers the AUC.

The AUC matrices have the same ``(runs, tasks)`` shape as the final-point score matrices, so the
rliable aggregates of :mod:`analysis.stats` (IQM, median, mean, optimality gap, profiles, probability
of improvement) apply to them unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import stats as S
from analysis.spec import FigureSpec

__all__ = ["AUC_COLUMNS", "auc_per_run", "auc_matrices", "per_task_auc"]

AUC_COLUMNS = ("algo", "task", "seed", "n_points", "auc_return", "auc_score")


def auc_per_run(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the mean over its eval points of ``return_mean`` and of ``score``.

    ``frame`` is the normalised usable frame (one row per run x eval point). The eval grid is the same
    for every run of a task (:func:`analysis.load.validate` enforces it), so every run of a task
    averages over the same points; a run whose point count differs from its task's is an error.
    Columns: :data:`AUC_COLUMNS`, sorted by (algo, task, seed).
    """
    if frame.empty:
        return pd.DataFrame(columns=list(AUC_COLUMNS))
    if frame["score"].isna().any():
        bad = frame[frame["score"].isna()][["algo", "task", "seed", "env_steps"]].to_dict("records")
        raise ValueError(f"AUC needs a finite normalised score at every eval point; missing at {bad}")
    g = frame.groupby(["algo", "task", "seed"], sort=True)
    out = pd.DataFrame({
        "n_points": g["env_steps"].nunique(),
        "auc_return": g["return_mean"].mean(),
        "auc_score": g["score"].mean(),
    }).reset_index()
    expected = frame.groupby("task")["env_steps"].nunique()
    short = out[out["n_points"] != out["task"].map(expected)]
    if len(short):
        raise ValueError("runs with a different number of eval points than their task's grid: "
                         + "; ".join(f"({r.algo}, {r.task}, seed {r.seed}): {r.n_points}" for r in short.itertuples()))
    return out[list(AUC_COLUMNS)]


def auc_matrices(per_run: pd.DataFrame, column: str = "auc_score") -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """``{algo: (runs, tasks)}`` of ``column`` from :func:`auc_per_run` (seeds ascending, tasks sorted)."""
    sizes = per_run.groupby(["algo", "task"])["seed"].nunique()
    for algo, per_task in sizes.groupby(level=0):
        if per_task.nunique() > 1:
            raise ValueError(f"ragged runs for {algo}: seeds per task {per_task.droplevel(0).to_dict()}")
    tasks = tuple(sorted(per_run["task"].unique()))
    out = {}
    for algo, g in per_run.groupby("algo", sort=True):
        wide = g.pivot_table(index="seed", columns="task", values=column, aggfunc="first").reindex(columns=list(tasks))
        if wide.isna().to_numpy().any():
            raise ValueError(f"{algo}: missing AUC for some (task, seed): {wide.to_dict()}")
        out[algo] = wide.to_numpy(dtype=float)
    return out, tasks


def per_task_auc(frame: pd.DataFrame, spec: FigureSpec) -> pd.DataFrame:
    """AUC per (algo, task): mean over seeds with a bootstrap CI, and IQM, of the raw-return AUC and of
    the normalised AUC (the same layout as :func:`analysis.stats.per_task_final`).

    Columns: ``algo, task, n_seeds, n_points, auc_return_mean, auc_return_lower, auc_return_upper,
    auc_return_iqm, auc_score_mean, auc_score_lower, auc_score_upper, auc_score_iqm, diverged_seeds``.
    """
    per_run = auc_per_run(frame)
    raw, tasks = auc_matrices(per_run, "auc_return")
    norm, _ = auc_matrices(per_run, "auc_score")
    n_points = per_run.groupby("task")["n_points"].first()
    diverged = frame[frame["status"] == "diverged"].groupby(["algo", "task"])["seed"].nunique()
    rows = []
    for algo in sorted(raw):
        T = len(tasks)
        rp, rci = S.interval(raw[algo], S.mean_iqm_per_task, spec)
        sp, sci = S.interval(norm[algo], S.mean_iqm_per_task, spec)
        for i, task in enumerate(tasks):
            rows.append({
                "algo": algo, "task": task, "n_seeds": raw[algo].shape[0], "n_points": int(n_points[task]),
                "auc_return_mean": rp[i], "auc_return_lower": rci[0, i], "auc_return_upper": rci[1, i],
                "auc_return_iqm": rp[T + i],
                "auc_score_mean": sp[i], "auc_score_lower": sci[0, i], "auc_score_upper": sci[1, i],
                "auc_score_iqm": sp[T + i],
                "diverged_seeds": int(diverged.get((algo, task), 0)),
            })
    return pd.DataFrame(rows)
