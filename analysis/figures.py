"""Figures as pure functions: tidy frames from :mod:`analysis.stats` -> ``matplotlib.figure.Figure``.

No I/O and no pyplot state: each figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas
(the global matplotlib backend is left alone). Sizes follow paper columns (single 3.5 in, double 7 in) with fonts of 7-8 pt.
Every number drawn comes from a frame that :mod:`analysis.report` also writes as a table.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "SINGLE_COLUMN_IN",
    "DOUBLE_COLUMN_IN",
    "algo_colors",
    "aggregate_figure",
    "profile_figure",
    "improvement_figure",
    "sample_efficiency_figure",
    "learning_curves_figure",
    "cost_figure",
    "multimodality_figure",
]

SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.0

STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.3,
    "pdf.fonttype": 42,
    "svg.hashsalt": "dpbench",
}
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
            "#999999", "#882255")  # Okabe-Ito (colour-blind safe), then extras


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # matplotlib types rc keys as Literals
        yield


def _figure(width: float, height: float) -> Figure:
    """A new Figure on its own Agg canvas (no pyplot, no global backend switch)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def algo_colors(algos: Sequence[str], proposed: str | None = None) -> dict[str, str]:
    """Stable colour per algorithm: the proposed one first colour, the others in sorted order."""
    order = ([proposed] if proposed is not None and proposed in algos else []) + sorted(a for a in algos if a != proposed)
    return {a: _PALETTE[i % len(_PALETTE)] for i, a in enumerate(order)}


def _algo_order(algos: Sequence[str], proposed: str | None) -> list[str]:
    return ([proposed] if proposed is not None and proposed in algos else []) + sorted(a for a in set(algos) if a != proposed)


def _short(task: str) -> str:
    return task.split("/", 1)[-1]


def aggregate_figure(agg: pd.DataFrame, proposed: str | None = None, confidence: float = 0.95) -> Figure:
    """Interval estimates of median, IQM, mean and optimality gap (one panel each), one row per algorithm.

    ``agg``: columns ``algo, metric, point, lower, upper`` (:func:`analysis.stats.aggregate_metrics`).
    """
    algos = _algo_order(agg["algo"].unique(), proposed)
    colors = algo_colors(algos, proposed)
    metrics_ = list(dict.fromkeys(agg["metric"]))
    with _style():
        fig = _figure(DOUBLE_COLUMN_IN, 0.9 + 0.28 * len(algos))
        axes = fig.subplots(1, len(metrics_), sharey=True)
        axes = np.atleast_1d(axes)
        for ax, m in zip(axes, metrics_):
            d = agg[agg["metric"] == m].set_index("algo")
            for y, a in enumerate(reversed(algos)):
                r = d.loc[a]
                ax.plot([r["lower"], r["upper"]], [y, y], color=colors[a], lw=6, alpha=0.75, solid_capstyle="butt")
                ax.plot([r["point"]], [y], marker="|", color="black", ms=10, mew=1.5)
            ax.set_title(m)
            ax.set_yticks(range(len(algos)), list(reversed(algos)))
            ax.set_ylim(-0.6, len(algos) - 0.4)
            ax.grid(axis="y", visible=False)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        fig.supxlabel(f"normalised score (bars: {confidence:.0%} stratified-bootstrap CI; tick: point estimate)",
                      fontsize=8)
    return fig


def profile_figure(prof: pd.DataFrame, proposed: str | None = None, confidence: float = 0.95) -> Figure:
    """Performance profiles: fraction of runs with normalised score > tau, with CI bands.

    ``prof``: columns ``algo, tau, fraction, lower, upper`` (:func:`analysis.stats.performance_profiles`).
    """
    algos = _algo_order(prof["algo"].unique(), proposed)
    colors = algo_colors(algos, proposed)
    with _style():
        fig = _figure(SINGLE_COLUMN_IN, 2.6)
        ax = fig.subplots()
        for a in algos:
            d = prof[prof["algo"] == a]
            ax.plot(d["tau"], d["fraction"], color=colors[a], label=a)
            ax.fill_between(d["tau"], d["lower"], d["upper"], color=colors[a], alpha=0.2, lw=0)
        ax.set_xlabel(r"normalised score threshold $\tau$")
        ax.set_ylabel(r"fraction of runs with score $> \tau$")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="upper right", title=f"bands: {confidence:.0%} CI", title_fontsize=7)
    return fig


def improvement_figure(poi: pd.DataFrame, confidence: float = 0.95) -> Figure:
    """Probability that the proposed algorithm improves on each baseline, with CIs.

    ``poi``: columns ``proposed, baseline, point, lower, upper`` (:func:`analysis.stats.probability_of_improvement`).
    """
    with _style():
        n = max(len(poi), 1)
        fig = _figure(SINGLE_COLUMN_IN, 0.9 + 0.3 * n)
        ax = fig.subplots()
        labels = []
        for y, r in enumerate(poi.itertuples()):
            ax.plot([r.lower, r.upper], [y, y], color=_PALETTE[0], lw=6, alpha=0.75, solid_capstyle="butt")
            ax.plot([r.point], [y], marker="|", color="black", ms=10, mew=1.5)
            labels.append(f"P({r.proposed} > {r.baseline})")
        ax.axvline(0.5, color="grey", ls="--", lw=0.8)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_xlim(-0.02, 1.02)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"probability of improvement ({confidence:.0%} CI)")
    return fig


def sample_efficiency_figure(se: pd.DataFrame, x: str = "env_steps", proposed: str | None = None,
                             confidence: float = 0.95) -> Figure:
    """IQM normalised score against training progress, with CI bands.

    ``se``: columns of :func:`analysis.stats.sample_efficiency`. ``x`` is ``"env_steps"`` (falls back to
    the budget fraction when tasks have different grids) or ``"train_seconds"`` (median training
    wall-clock over runs x tasks at each eval point).
    """
    algos = _algo_order(se["algo"].unique(), proposed)
    colors = algo_colors(algos, proposed)
    with _style():
        fig = _figure(SINGLE_COLUMN_IN, 2.6)
        ax = fig.subplots()
        if x == "env_steps" and se["env_steps"].notna().all():
            col, label, scale = "env_steps", "environment steps", 1.0
        elif x == "env_steps":
            col, label, scale = "budget_fraction", "training progress (% of each task's env-step budget)", 100.0
        elif x == "train_seconds":
            col, label, scale = "train_seconds", "training wall-clock (s, median over runs and tasks)", 1.0
        else:
            raise ValueError(f"x must be 'env_steps' or 'train_seconds', got {x!r}")
        for a in algos:
            d = se[se["algo"] == a].sort_values("point")
            xs = d[col].to_numpy(dtype=float) * scale
            ax.plot(xs, d["iqm"], color=colors[a], marker="o", ms=3, label=a)
            ax.fill_between(xs, d["lower"], d["upper"], color=colors[a], alpha=0.2, lw=0)
        ax.set_xlabel(label)
        ax.set_ylabel("IQM normalised score")
        if col == "env_steps":
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
        ax.legend(loc="upper left", title=f"bands: {confidence:.0%} CI", title_fontsize=7)
    return fig


def learning_curves_figure(lc: pd.DataFrame, proposed: str | None = None, ncols: int = 4,
                           ylabel: str = "return (IQM over seeds)", confidence: float = 0.95,
                           references: pd.DataFrame | None = None) -> Figure:
    """Grid of per-task learning curves (IQM across seeds with CI bands) against env steps.

    ``lc``: columns ``algo, task, env_steps, iqm, lower, upper`` (:func:`analysis.stats.learning_curves`).
    ``references``: optional columns ``algo, task, return_mean`` (:func:`analysis.reference.reference_lines`),
    drawn as grey horizontal lines (one line style per reference algorithm) on their task's panel.
    """
    tasks = sorted(lc["task"].unique())
    algos = _algo_order(lc["algo"].unique(), proposed)
    colors = algo_colors(algos, proposed)
    ncols = max(1, min(ncols, len(tasks)))
    nrows = math.ceil(len(tasks) / ncols)
    width = DOUBLE_COLUMN_IN if ncols > 1 else SINGLE_COLUMN_IN
    one_suite = len({t.split("/", 1)[0] for t in tasks}) == 1
    refs = references if references is not None else pd.DataFrame(columns=["algo", "task", "return_mean"])
    ref_styles = {a: ls for a, ls in zip(sorted(refs["algo"].unique()), ["--", ":", "-.", (0, (5, 1, 1, 1))] * 4)}
    with _style():
        fig = _figure(width, 0.5 + 1.8 * nrows)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for i, (ax, task) in enumerate(zip(axes, tasks)):
            for a in algos:
                d = lc[(lc["algo"] == a) & (lc["task"] == task)].sort_values("env_steps")
                if d.empty:
                    continue
                ax.plot(d["env_steps"], d["iqm"], color=colors[a], label=a)
                ax.fill_between(d["env_steps"], d["lower"], d["upper"], color=colors[a], alpha=0.2, lw=0)
            for r in refs[refs["task"] == task].itertuples():
                ax.axhline(r.return_mean, color="#555555", lw=0.9, ls=ref_styles[r.algo], label=f"{r.algo} (reference)")
            ax.set_title(_short(task) if one_suite else task)
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            if i % ncols == 0:
                ax.set_ylabel(ylabel)
            if i >= len(tasks) - ncols:
                ax.set_xlabel("environment steps")
        for ax in axes[len(tasks):]:
            ax.set_visible(False)
        by_label: dict[str, Any] = {}
        for ax in axes[:len(tasks)]:  # a reference may be on some panels only: collect every label
            for h, lab in zip(*ax.get_legend_handles_labels()):
                by_label.setdefault(lab, h)
        handles, labels = list(by_label.values()), list(by_label)
        title = f"bands: {confidence:.0%} CI over seeds" + (f"; suite: {tasks[0].split('/', 1)[0]}" if one_suite else "")
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 6),
                   title=title, title_fontsize=7)
    return fig


def cost_figure(cost: pd.DataFrame, proposed: str | None = None) -> Figure:
    """Training cost per task and algorithm: training wall-clock, env-steps/s and peak memory.

    Bars are means over seeds, whiskers the min..max. ``cost``: :func:`analysis.stats.cost_summary`.
    """
    tasks = sorted(cost["task"].unique())
    algos = _algo_order(cost["algo"].unique(), proposed)
    colors = algo_colors(algos, proposed)
    panels = [("train_seconds", "training wall-clock (s)"), ("env_steps_per_second", "throughput (env steps/s)"),
              ("peak_memory_mb", "peak memory (MB)")]
    width = 0.8 / len(algos)
    wide = len(tasks) > 3  # many tasks: one full-width row per metric
    with _style():
        if wide:
            fig = _figure(DOUBLE_COLUMN_IN, 1.0 + 1.5 * 3)
            axes = fig.subplots(3, 1, sharex=True)
        else:
            fig = _figure(DOUBLE_COLUMN_IN, 2.5)
            axes = fig.subplots(1, 3)
        for k, (ax, (col, label)) in enumerate(zip(axes, panels)):
            for i, a in enumerate(algos):
                d = cost[cost["algo"] == a].set_index("task").reindex(tasks)
                xs = np.arange(len(tasks)) + (i - (len(algos) - 1) / 2) * width
                mean = d[col].to_numpy(dtype=float)
                err = np.vstack([mean - d[f"{col}_min"].to_numpy(dtype=float), d[f"{col}_max"].to_numpy(dtype=float) - mean])
                ax.bar(xs, mean, width=width, color=colors[a], label=a, yerr=err,
                       error_kw={"elinewidth": 0.6, "capsize": 1.0})
            if not wide or k == 2:
                ax.set_xticks(range(len(tasks)), [_short(t) for t in tasks], rotation=35 if wide else 0,
                              ha="right" if wide else "center")
            ax.set_ylabel(label.replace(" (", "\n(") if wide else label)
            ax.grid(axis="x", visible=False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(algos), 6),
                   title="bars: mean over seeds; whiskers: min..max", title_fontsize=7)
    return fig


def multimodality_figure(goals: pd.DataFrame, coverage: pd.DataFrame, task: str,
                         proposed: str | None = None, confidence: float = 0.95) -> Figure:
    """Reached-goal distribution and mode coverage of the stochastic policy at the final eval.

    Left: share of episodes ending at each goal (stacked, pooled over seeds; grey = no goal). Middle and
    right: distinct goals reached and entropy of the reached-goal distribution (mean over seeds, with
    CIs; the dashed line marks the maximum). ``goals``/``coverage``: :func:`analysis.stats.goal_distribution`
    and :func:`analysis.stats.mode_coverage`.
    """
    g = goals[goals["task"] == task]
    c = coverage[coverage["task"] == task].set_index("algo")
    algos = _algo_order(g["algo"].unique(), proposed)
    goal_names = list(dict.fromkeys(g["goal"]))
    goal_colors = {name: "#BBBBBB" if name == "none" else col
                   for name, col in zip(goal_names, ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                                                     "#CC6677", "#882255", "#AA4499"] * 4)}
    ys = np.arange(len(algos))[::-1]
    with _style():
        fig = _figure(DOUBLE_COLUMN_IN, 1.2 + 0.3 * len(algos))
        ax0, ax1, ax2 = fig.subplots(1, 3, sharey=True, width_ratios=[1.6, 1, 1])
        left = np.zeros(len(algos))
        for name in goal_names:
            freq = np.array([g[(g["algo"] == a) & (g["goal"] == name)]["frequency"].sum() for a in algos])
            ax0.barh(ys, freq, left=left, color=goal_colors[name], label=name, height=0.6)
            left += freq
        ax0.set_xlim(0, 1)
        ax0.set_xlabel("share of stochastic episodes\n(pooled over seeds)")
        ax0.set_yticks(ys, algos)
        ax0.grid(axis="y", visible=False)
        ax0.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(goal_names), title="goal reached",
                   title_fontsize=7, handlelength=1.0, columnspacing=0.8)
        for ax, m, label, top in ((ax1, "distinct_goals", "distinct goals reached\n(dashed: all K goals)", None),
                                  (ax2, "entropy", "goal entropy (nats)\n(dashed: maximum ln K)", "max_entropy")):
            for y, a in zip(ys, algos):
                if a not in c.index:
                    continue
                r = c.loc[a]
                ax.plot([r[f"{m}_lower"], r[f"{m}_upper"]], [y, y], color=algo_colors(algos, proposed)[a], lw=6,
                        alpha=0.75, solid_capstyle="butt")
                ax.plot([r[m]], [y], marker="|", color="black", ms=10, mew=1.5)
            limit = float(c["n_goals"].iloc[0]) if top is None else float(c[top].iloc[0])
            ax.axvline(limit, color="grey", ls="--", lw=0.8)
            ax.set_xlim(-0.05 * limit, 1.08 * limit)
            if top is None:
                ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.set_xlabel(label)
            ax.set_title(f"mean over seeds, {confidence:.0%} CI", fontsize=7)
            ax.grid(axis="y", visible=False)
        fig.suptitle(f"{task}: final evaluation, stochastic policy", fontsize=8)
    return fig

