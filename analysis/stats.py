"""Seeded rliable statistics on normalised scores, returned as tidy frames.

rliable 1.2.0 ignores its ``random_state`` (``StratifiedBootstrap.update_indices`` draws from the
global ``np.random``), so :func:`_rliable_interval` calls ``np.random.seed(spec.seed)`` right before
every rliable call; that is the only global RNG use in the package. rliable is called once per
algorithm, so an algorithm's intervals depend only on its own runs and the spec, never on which
other algorithms are in the results.

Shapes: a *score matrix* is ``(runs, tasks)`` (final eval point); a *curve tensor* is
``(runs, tasks, points)``. Runs are seeds in ascending order, tasks in sorted order.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics

from analysis.spec import FigureSpec

__all__ = [
    "METRICS",
    "aggregate_functions",
    "score_matrices",
    "curve_tensors",
    "common_points",
    "aggregate_metrics",
    "performance_profiles",
    "probability_of_improvement",
    "sample_efficiency",
    "learning_curves",
    "per_task_final",
    "mode_coverage",
    "goal_distribution",
    "cost_summary",
    "interval",
    "mean_iqm_per_task",
]

METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "Median": metrics.aggregate_median,
    "IQM": metrics.aggregate_iqm,
    "Mean": metrics.aggregate_mean,
    "Optimality Gap": metrics.aggregate_optimality_gap,
}
"""Aggregate metrics over a (runs, tasks) matrix, in rliable's definitions: median and mean of the
per-task means, IQM = 25 % trimmed mean of all runs x tasks, optimality gap = mean of max(1 - x, 0)."""


def aggregate_functions(x: np.ndarray) -> np.ndarray:
    """``[median, IQM, mean, optimality gap]`` of a ``(runs, tasks)`` matrix (rliable definitions)."""
    return np.array([f(x) for f in METRICS.values()])


def _rliable_interval(scores, func, spec: FigureSpec) -> tuple[np.ndarray, np.ndarray]:
    """One seeded rliable stratified-bootstrap call for one key; returns (point, (2, k) interval)."""
    np.random.seed(spec.seed)  # rliable ignores random_state: seed the global RNG right before the call
    point, interval = rly.get_interval_estimates(
        {"x": scores}, func, reps=spec.reps, confidence_interval_size=spec.confidence
    )
    return np.atleast_1d(np.asarray(point["x"], dtype=float)), np.asarray(interval["x"], dtype=float).reshape(2, -1)


def _check_rectangular(frame: pd.DataFrame) -> None:
    sizes = frame.groupby(["algo", "task"])["seed"].nunique()
    for algo, per_task in sizes.groupby(level=0):
        if per_task.nunique() > 1:
            raise ValueError(f"ragged runs for {algo}: seeds per task {per_task.droplevel(0).to_dict()}")


def _final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    last = frame.groupby("task")["env_steps"].transform("max")
    return frame[frame["env_steps"] == last]


def score_matrices(frame: pd.DataFrame, column: str = "score") -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """``{algo: (runs, tasks)}`` of ``column`` at each task's final eval point, and the task order."""
    _check_rectangular(frame)
    final = _final_rows(frame)
    tasks = tuple(sorted(final["task"].unique()))
    out = {}
    for algo, g in final.groupby("algo", sort=True):
        wide = g.pivot_table(index="seed", columns="task", values=column, aggfunc="first").reindex(columns=list(tasks))
        if wide.isna().to_numpy().any():
            raise ValueError(f"{algo}: missing final {column} for some (task, seed): {wide.to_dict()}")
        out[algo] = wide.to_numpy(dtype=float)
    return out, tasks


def common_points(grids: Mapping[str, Sequence[int]]) -> tuple[tuple[Fraction, ...], bool]:
    """Eval points shared by every task, as fractions of each task's budget (its last grid point).

    Returns the common fractions and whether all grids are identical (then env steps can be the x axis).
    No interpolation: a point is used only where every task has an evaluation at that budget fraction.
    """
    fractions = [{Fraction(int(s), int(max(g))) for g in [grid] for s in g} for grid in grids.values()]
    common = tuple(sorted(set.intersection(*fractions))) if fractions else ()
    identical = len({tuple(g) for g in grids.values()}) == 1
    return common, identical


def curve_tensors(frame: pd.DataFrame, column: str = "score") -> tuple[dict[str, np.ndarray], tuple[str, ...], tuple[Fraction, ...]]:
    """``{algo: (runs, tasks, points)}`` over the common eval points (see :func:`common_points`)."""
    _check_rectangular(frame)
    grids = {t: tuple(sorted(g["env_steps"].unique())) for t, g in frame.groupby("task", sort=True)}
    common, _ = common_points(grids)
    tasks = tuple(sorted(grids))
    f = frame.assign(frac=[Fraction(int(s), int(max(grids[t]))) for t, s in zip(frame["task"], frame["env_steps"])])
    f = f[f["frac"].isin(common)]
    out = {}
    for algo, g in f.groupby("algo", sort=True):
        seeds = sorted(g["seed"].unique())
        arr = np.full((len(seeds), len(tasks), len(common)), np.nan)
        for r in g.itertuples():
            arr[seeds.index(r.seed), tasks.index(r.task), common.index(r.frac)] = getattr(r, column)
        if np.isnan(arr).any():
            raise ValueError(f"{algo}: missing {column} on the common eval points")
        out[algo] = arr
    return out, tasks, common


def aggregate_metrics(score_dict: Mapping[str, np.ndarray], spec: FigureSpec) -> pd.DataFrame:
    """Median, IQM, mean and optimality gap with stratified-bootstrap CIs, one row per (algo, metric)."""
    rows = []
    for algo in sorted(score_dict):
        point, ci = _rliable_interval(score_dict[algo], aggregate_functions, spec)
        for i, name in enumerate(METRICS):
            rows.append({"algo": algo, "metric": name, "point": point[i], "lower": ci[0, i], "upper": ci[1, i]})
    return pd.DataFrame(rows, columns=["algo", "metric", "point", "lower", "upper"])


def tau_grid(spec: FigureSpec) -> np.ndarray:
    """Thresholds of the performance profile: ``tau_points`` values evenly spaced on [0, tau_max]."""
    return np.linspace(0.0, spec.tau_max, spec.tau_points)


def performance_profiles(score_dict: Mapping[str, np.ndarray], spec: FigureSpec) -> pd.DataFrame:
    """Run-score distributions P(score > tau) with CIs, one row per (algo, tau)."""
    taus = tau_grid(spec)
    rows = []
    for algo in sorted(score_dict):
        np.random.seed(spec.seed)  # rliable ignores random_state: seed the global RNG right before the call
        prof, cis = rly.create_performance_profile(
            {algo: score_dict[algo]}, taus, reps=spec.reps, confidence_interval_size=spec.confidence
        )
        for i, tau in enumerate(taus):
            rows.append({"algo": algo, "tau": float(tau), "fraction": float(prof[algo][i]),
                         "lower": float(cis[algo][0, i]), "upper": float(cis[algo][1, i])})
    return pd.DataFrame(rows, columns=["algo", "tau", "fraction", "lower", "upper"])


def probability_of_improvement(score_dict: Mapping[str, np.ndarray], spec: FigureSpec) -> tuple[pd.DataFrame, str]:
    """P(proposed > baseline) with CIs for each other algorithm, and a note (non-empty when skipped).

    Uses rliable's Mann-Whitney-U estimate averaged over tasks, bootstrapped with its stratified
    independent bootstrap (runs of each algorithm resampled separately within each task).
    """
    cols = ["proposed", "baseline", "point", "lower", "upper"]
    p = spec.proposed
    if p not in score_dict:
        return pd.DataFrame(columns=cols), f"proposed algorithm {p!r} is not in the results; probability of improvement skipped"
    others = [a for a in sorted(score_dict) if a != p]
    if not others:
        return pd.DataFrame(columns=cols), f"only {p!r} in the results; probability of improvement skipped"
    rows = []
    for b in others:
        np.random.seed(spec.seed)  # rliable ignores random_state: seed the global RNG right before the call
        point, ci = rly.get_interval_estimates(
            {"pair": [score_dict[p], score_dict[b]]}, metrics.probability_of_improvement,
            reps=spec.reps, confidence_interval_size=spec.confidence,
        )
        ci_arr = np.asarray(ci["pair"], dtype=float).reshape(-1)
        rows.append({"proposed": p, "baseline": b, "point": float(point["pair"]), "lower": ci_arr[0], "upper": ci_arr[1]})
    return pd.DataFrame(rows, columns=cols), ""


def _iqm_per_point(x: np.ndarray) -> np.ndarray:
    return np.array([metrics.aggregate_iqm(x[..., e]) for e in range(x.shape[-1])])


def sample_efficiency(frame: pd.DataFrame, spec: FigureSpec, column: str = "score") -> pd.DataFrame:
    """IQM of ``column`` across runs x tasks with CIs at each common eval point, per algorithm.

    Columns: ``algo, point, budget_fraction, env_steps`` (the shared env-step count when every task has
    the same grid, else NaN), ``train_seconds`` (median training wall-clock over the algorithm's runs x
    tasks at that point, ignoring imputed cells), ``iqm, lower, upper``.
    """
    tensors, tasks, common = curve_tensors(frame, column)
    grids = {t: tuple(sorted(g["env_steps"].unique())) for t, g in frame.groupby("task", sort=True)}
    _, identical = common_points(grids)
    grid0 = grids[tasks[0]]
    rows = []
    for algo in sorted(tensors):
        point, ci = _rliable_interval(tensors[algo], _iqm_per_point, spec)
        g = frame[frame["algo"] == algo]
        for e, frac in enumerate(common):
            at = g[[Fraction(int(s), int(max(grids[t]))) == frac for t, s in zip(g["task"], g["env_steps"])]]
            secs = at["train_seconds"].astype(float).to_numpy()
            secs = secs[np.isfinite(secs)]
            rows.append({
                "algo": algo, "point": e, "budget_fraction": float(frac),
                "env_steps": float(frac * max(grid0)) if identical else math.nan,
                "train_seconds": float(np.median(secs)) if secs.size else math.nan,
                "iqm": point[e], "lower": ci[0, e], "upper": ci[1, e],
            })
    return pd.DataFrame(rows, columns=["algo", "point", "budget_fraction", "env_steps", "train_seconds", "iqm", "lower", "upper"])


def learning_curves(frame: pd.DataFrame, spec: FigureSpec, column: str = "return_mean") -> pd.DataFrame:
    """Per-task learning curves: IQM across seeds of ``column`` with CIs at every eval point.

    Columns: ``algo, task, env_steps, n_seeds, iqm, lower, upper``.
    """
    rows = []
    for (algo, task), g in frame.groupby(["algo", "task"], sort=True):
        wide = g.pivot_table(index="seed", columns="env_steps", values=column, aggfunc="first").sort_index(axis=1)
        if wide.isna().to_numpy().any():
            raise ValueError(f"({algo}, {task}): ragged eval grid across seeds")
        arr = wide.to_numpy(dtype=float)[:, None, :]  # (runs, 1 task, points)
        point, ci = _rliable_interval(arr, _iqm_per_point, spec)
        for e, step in enumerate(wide.columns):
            rows.append({"algo": algo, "task": task, "env_steps": int(step), "n_seeds": arr.shape[0],
                         "iqm": point[e], "lower": ci[0, e], "upper": ci[1, e]})
    return pd.DataFrame(rows, columns=["algo", "task", "env_steps", "n_seeds", "iqm", "lower", "upper"])


def _mean_iqm_per_task(x: np.ndarray) -> np.ndarray:
    """``[mean_t..., iqm_t...]`` over runs for each task column of a (runs, tasks) matrix."""
    from scipy.stats import trim_mean

    return np.concatenate([x.mean(axis=0), trim_mean(x, 0.25, axis=0)])


def per_task_final(frame: pd.DataFrame, spec: FigureSpec) -> pd.DataFrame:
    """Final-eval scores per (algo, task): mean with bootstrap CI over seeds and IQM, raw and normalised.

    Columns: ``algo, task, n_seeds, env_steps, return_mean, return_lower, return_upper, return_iqm,
    score_mean, score_lower, score_upper, score_iqm, diverged_seeds``.
    """
    raw, tasks = score_matrices(frame, "return_mean")
    norm, _ = score_matrices(frame, "score")
    final = _final_rows(frame)
    rows = []
    for algo in sorted(raw):
        T = len(tasks)
        rp, rci = _rliable_interval(raw[algo], _mean_iqm_per_task, spec)
        sp, sci = _rliable_interval(norm[algo], _mean_iqm_per_task, spec)
        for i, task in enumerate(tasks):
            g = final[(final["algo"] == algo) & (final["task"] == task)]
            rows.append({
                "algo": algo, "task": task, "n_seeds": raw[algo].shape[0], "env_steps": int(g["env_steps"].iloc[0]),
                "return_mean": rp[i], "return_lower": rci[0, i], "return_upper": rci[1, i], "return_iqm": rp[T + i],
                "score_mean": sp[i], "score_lower": sci[0, i], "score_upper": sci[1, i], "score_iqm": sp[T + i],
                "diverged_seeds": int((g["status"] == "diverged").sum()),
            })
    return pd.DataFrame(rows)


def _coverage_of(outcomes: Sequence[int], n_goals: int) -> tuple[float, float, float]:
    """(distinct goals reached, entropy in nats of the reached-goal distribution, reach rate)."""
    reached = [int(o) for o in outcomes if int(o) >= 0]
    if not reached:
        return 0.0, 0.0, 0.0
    counts = np.bincount(reached, minlength=n_goals).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float((counts > 0).sum()), float(-(p * np.log(p)).sum()), len(reached) / len(outcomes)


def mode_coverage(frame: pd.DataFrame, outcome_names: Mapping[str, Sequence[str]], spec: FigureSpec) -> pd.DataFrame:
    """Mode coverage of the stochastic-policy episodes at the final eval, per (algo, task with outcomes).

    Per run: number of distinct goals reached, entropy (nats; ``ln K`` is the maximum for K goals) of
    the reached-goal distribution (episodes that reach no goal are left out of the entropy), and the
    fraction of episodes that reach a goal. Mean across seeds with a stratified-bootstrap CI. An
    imputed (diverged) final cell reaches nothing: 0, 0, 0.
    """
    cols = ["algo", "task", "n_goals", "max_entropy", "n_seeds", "episodes"]
    for m in ("distinct_goals", "entropy", "reach_rate"):
        cols += [m, f"{m}_lower", f"{m}_upper"]
    rows = []
    final = _final_rows(frame)
    for task in sorted(t for t, names in outcome_names.items() if names):
        K = len(outcome_names[task])
        for algo, g in final[final["task"] == task].groupby("algo", sort=True):
            g = g.sort_values("seed")
            per_run = np.array([_coverage_of(o, K) for o in g["stochastic_outcomes"]])  # (runs, 3)
            point, ci = _rliable_interval(per_run, lambda x: x.mean(axis=0), spec)
            row = {"algo": algo, "task": task, "n_goals": K, "max_entropy": math.log(K), "n_seeds": len(g),
                   "episodes": int(sum(len(o) for o in g["stochastic_outcomes"]))}
            for i, m in enumerate(("distinct_goals", "entropy", "reach_rate")):
                row.update({m: point[i], f"{m}_lower": ci[0, i], f"{m}_upper": ci[1, i]})
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def goal_distribution(frame: pd.DataFrame, outcome_names: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Reached-goal frequencies of the final eval's stochastic episodes, pooled over seeds.

    One row per (algo, task, goal) plus a ``none`` row (episodes that reach no goal): ``count`` and
    ``frequency`` (share of all episodes).
    """
    rows = []
    final = _final_rows(frame)
    for task in sorted(t for t, names in outcome_names.items() if names):
        names = list(outcome_names[task])
        for algo, g in final[final["task"] == task].groupby("algo", sort=True):
            outs = [int(o) for lst in g["stochastic_outcomes"] for o in lst]
            n = len(outs)
            for k, name in [(i, nm) for i, nm in enumerate(names)] + [(-1, "none")]:
                c = sum(1 for o in outs if (o == k if k >= 0 else o < 0))
                rows.append({"algo": algo, "task": task, "goal": name, "count": c, "frequency": c / n if n else 0.0})
    return pd.DataFrame(rows, columns=["algo", "task", "goal", "count", "frequency"])


def cost_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Compute cost per (algo, task) from manifests: mean, min and max over runs of training wall-clock
    (s), env-steps/s and peak memory (MB), plus mean total wall-clock and compile time."""
    rows = []
    for (algo, task), g in runs.groupby(["algo", "task"], sort=True):
        row = {"algo": algo, "task": task, "n_runs": len(g)}
        for col in ("train_seconds", "env_steps_per_second", "peak_memory_mb"):
            v = g[col].astype(float)
            row.update({col: v.mean(), f"{col}_min": v.min(), f"{col}_max": v.max()})
        row["wall_seconds"] = g["wall_seconds"].astype(float).mean()
        row["compile_seconds"] = g["compile_seconds"].astype(float).mean()
        rows.append(row)
    return pd.DataFrame(rows)


interval = _rliable_interval
"""Public name of the seeded rliable interval call (for sibling modules such as :mod:`analysis.auc`)."""
mean_iqm_per_task = _mean_iqm_per_task
"""Public name of the per-task ``[mean..., IQM...]`` statistic (for sibling modules)."""
