"""Regenerate the report: the one place in :mod:`analysis` that reads and writes files.

``regenerate(results_dir, out_dir)`` loads and validates the records, normalises them, computes the
statistics and writes, under ``OUT/report/``:

* ``tables/<name>.{csv,md,tex}``: every number any figure shows (CSV at full precision);
* ``figures/<name>.{png,pdf}``: with fixed metadata, so two runs give byte-identical files;
* ``index.md`` and ``index.html`` (self-contained: figures embedded as data URIs), stating seeds,
  budgets, the normalisation table, the bootstrap settings and the completeness diagnostics.

Deterministic: no timestamps, sorted orders everywhere, the bootstrap seeded by the :class:`FigureSpec`.
"""

from __future__ import annotations

import base64
import html
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import figures as F
from analysis import modes as MO
from analysis.modes_figure import probe_actions_figure
from analysis import stats as S
from analysis import tables as T
from analysis.load import (
    Completeness,
    IncompleteGridError,
    load_records,
    restrict_to_complete,
    usable_frame,
    validate,
)
from analysis.normalize import DEFAULT_TABLE, check_tasks, load_reference_table, normalize
from analysis.spec import FigureSpec

__all__ = ["Report", "regenerate", "save_figure"]

PNG_DPI = 200
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


@dataclass(frozen=True)
class Report:
    """What :func:`regenerate` wrote: the report directory, its files and the completeness check."""

    directory: Path
    index_md: Path
    index_html: Path
    tables: tuple[Path, ...]
    figures: tuple[Path, ...]
    completeness: Completeness
    notes: tuple[str, ...] = field(default=())


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` with fixed metadata (byte-identical on re-runs)."""
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=PNG_DPI, metadata=PNG_METADATA)
    fig.savefig(pdf, metadata=PDF_METADATA)
    return [png, pdf]


# ----------------------------------------------------------------------------------------------- blocks
# The page is a list of blocks rendered twice, to Markdown and to HTML, so the two always agree.

@dataclass(frozen=True)
class _Block:
    kind: str  # "h1" | "h2" | "p" | "list" | "table" | "figure" | "warn"
    text: str = ""
    items: tuple[str, ...] = ()
    frame: pd.DataFrame | None = None
    path: str = ""


def _md(blocks: list[_Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}\n")
        elif b.kind == "h2":
            out.append(f"## {b.text}\n")
        elif b.kind == "p":
            out.append(b.text + "\n")
        elif b.kind == "warn":
            out.append(f"> **WARNING:** {b.text}\n")
        elif b.kind == "list":
            out.append("\n".join(f"- {i}" for i in b.items) + "\n")
        elif b.kind == "table":
            out.append(T.to_markdown(b.frame))
        elif b.kind == "figure":
            out.append(f"![{b.text}]({b.path}.png)\n\n*{b.text}* ([PDF]({b.path}.pdf))\n")
    return "\n".join(out)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False, name=None):
        rows.append("<tr>" + "".join(f"<td>{html.escape(T.format_value(v))}</td>" for v in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _inline_code(text: str) -> str:
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html(blocks: list[_Block], root: Path) -> str:
    body = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline_code(b.text)}</p>")
        elif b.kind == "warn":
            body.append(f'<p class="warn"><strong>WARNING:</strong> {_inline_code(b.text)}</p>')
        elif b.kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline_code(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            body.append(_html_table(b.frame))
        elif b.kind == "figure":
            data = base64.b64encode((root / f"{b.path}.png").read_bytes()).decode("ascii")
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.text)}">'
                        f'<figcaption>{html.escape(b.text)} (<a href="{b.path}.pdf">PDF</a>)</figcaption></figure>')
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1em}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f2f2f2}"
             "img{max-width:100%}figure{margin:1em 0}figcaption{font-size:0.9em;font-style:italic}"
             ".warn{background:#fff3cd;border:1px solid #e0b000;padding:0.5em}code{background:#f5f5f5}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dpbench report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# ----------------------------------------------------------------------------------------------- content

def _envs_by_algo(task_runs: pd.DataFrame) -> str:
    """``"64 (cppo, ppo); 16 (dacer, dipo)"``: each training env count with the algorithms that used it."""
    by_n: dict[int, set[str]] = {}
    for algo, n in zip(task_runs["algo"], task_runs["num_envs"]):
        by_n.setdefault(int(n), set()).add(str(algo))
    return "; ".join(f"{n} ({', '.join(sorted(a))})" for n, a in sorted(by_n.items(), reverse=True))


def _settings_blocks(results_dir: Path, spec: FigureSpec, runs: pd.DataFrame, comp: Completeness,
                     ref_table: dict, ref_path: Path) -> list[_Block]:
    budgets = (runs.groupby("task", sort=True)
               .agg(env_steps=("budget_env_steps", "max"), eval_points=("eval_grid", lambda g: len(max(g, key=len))),
                    eval_episodes=("eval_episodes", "max"))
               .reset_index())
    # Training env counts may differ by algorithm (e.g. off-policy presets): list them per algorithm.
    budgets["num_envs"] = [_envs_by_algo(runs[runs["task"] == t]) for t in budgets["task"]]
    budgets["eval_grid"] = [", ".join(map(str, comp.grids[t])) for t in budgets["task"]]
    refs = pd.DataFrame([{"task": t, "min": ref_table[t].min, "max": ref_table[t].max,
                          "provenance": ref_table[t].provenance} for t in comp.tasks])
    return [
        _Block("h2", "Settings"),
        _Block("list", items=(
            f"results: `{results_dir}`",
            f"algorithms: {', '.join(comp.algos)} (proposed: `{spec.proposed}`)",
            f"tasks: {', '.join(comp.tasks)}",
            f"seeds: {', '.join(map(str, comp.seeds))} (the same root seeds for every algorithm)",
            f"sweeps: {', '.join(sorted({str(s) for s in runs['sweep']}))}",
        )),
        _Block("p", "Budgets per task (the eval grid is shared by every algorithm; `env_steps` is the scheduled grid point):"),
        _Block("table", frame=budgets),
        _Block("p", f"Normalisation: score = (return - min) / (max - min) with the fixed table `{ref_path.name}` "
                    "(never computed from the results, so adding an algorithm changes no other score):"),
        _Block("table", frame=refs),
        _Block("p", f"Bootstrap: rliable 1.2.0 stratified bootstrap (runs resampled within each task), percentile "
                    f"intervals, {spec.confidence:.0%} confidence, reps = {spec.reps}, `np.random.seed({spec.seed})` "
                    "right before every rliable call (one call per algorithm). Scores are the deterministic policy's "
                    "mean return at the final eval point unless stated otherwise. Regenerate with "
                    f"`dpbench figures RESULTS_DIR --reps {spec.reps} --seed {spec.seed} --proposed {spec.proposed}`."),
    ]


def _completeness_blocks(comp: Completeness, notes: list[str]) -> list[_Block]:
    blocks = [_Block("h2", "Completeness")]
    if not comp.complete:
        blocks.append(_Block("warn", f"incomplete grid: {len(comp.holes)} missing cells, {len(comp.errors)} structural "
                                     "errors. Rendered with --allow-incomplete; the statistics below leave out:"))
        blocks.append(_Block("list", items=tuple(notes) or ("nothing (no usable subset)",)))
    blocks.append(_Block("list", items=(
        f"expected cells (algo x task x seed x eval point): {comp.expected_cells}",
        f"missing cells: {len(comp.holes)}",
        f"diverged runs: {len(comp.diverged)}; their cells from the divergence on score the reference minimum "
        f"(normalised 0): {len(comp.imputed)} imputed cells",
        f"failed/unfinished runs (not results; every grid point counts as missing): {len(comp.not_final)}",
    )))
    details = [f"error: {e}" for e in comp.errors]
    details += [f"{st} run ({a}, {t}, seed {s})" + (f": {err}" if err else "") for a, t, s, st, err in comp.not_final]
    details += [f"diverged run ({a}, {t}, seed {s}), imputed from env_steps {step}" for a, t, s, step in comp.diverged]
    details += [f"missing: {h}" for h in comp.holes]
    if details:
        blocks.append(_Block("list", items=tuple(details)))
    return blocks


def regenerate(results_dir: str | Path, out_dir: str | Path | None = None, reps: int = 2000, seed: int = 0,
               proposed: str = "cppo", allow_incomplete: bool = False,
               reference_table: str | Path | None = None) -> Report:
    """Load, validate, normalise and analyse ``results_dir``; write ``OUT/report/`` (``OUT`` defaults
    to ``results_dir``).

    Raises :class:`analysis.load.NoRecordsError` (no records), :class:`analysis.normalize.MissingReferenceError`
    (a task without reference scores) and, unless ``allow_incomplete``, :class:`analysis.load.IncompleteGridError`
    (holes, listed exactly). With ``allow_incomplete`` the report lists the holes prominently and the
    statistics use, per algorithm, only the seeds complete on every task.
    """
    spec = FigureSpec(reps=reps, seed=seed, proposed=proposed, allow_incomplete=allow_incomplete)
    results_dir = Path(results_dir)
    out_root = Path(out_dir) if out_dir is not None else results_dir
    ref_path = Path(reference_table) if reference_table is not None else DEFAULT_TABLE

    records = load_records(results_dir)
    comp = validate(records)
    ref = load_reference_table(ref_path)
    check_tasks(comp.tasks, ref, ref_path)
    if not comp.complete and not allow_incomplete:
        raise IncompleteGridError(comp)
    frame = usable_frame(records, comp)
    notes: list[str] = []
    if not comp.complete:
        frame, notes = restrict_to_complete(frame, comp)
        if frame.empty:
            raise IncompleteGridError(comp)
    frame = normalize(frame, ref)
    used = set(zip(frame["algo"], frame["task"], frame["seed"]))
    runs = records.runs[[k in used for k in zip(records.runs["algo"], records.runs["task"], records.runs["seed"])]]
    outcome_names = {t: tuple(g["outcome_names"].iloc[0]) for t, g in runs.groupby("task", sort=True)}

    # statistics
    score_dict, tasks = S.score_matrices(frame, "score")
    agg = S.aggregate_metrics(score_dict, spec)
    prof = S.performance_profiles(score_dict, spec)
    poi, poi_note = S.probability_of_improvement(score_dict, spec)
    se = S.sample_efficiency(frame, spec, "score")
    lc = S.learning_curves(frame, spec, "return_mean")
    final = S.per_task_final(frame, spec)
    cost = S.cost_summary(runs)
    coverage = S.mode_coverage(frame, outcome_names, spec)
    goals = S.goal_distribution(frame, outcome_names)
    probes = MO.final_probes(MO.load_probes(runs), {t: int(g["env_steps"].max()) for t, g in frame.groupby("task")})
    probe_modes = MO.probe_mode_table(probes, spec)
    mm_summary = MO.multimodality_summary(probe_modes, coverage)

    report = out_root / "report"
    for sub in ("tables", "figures"):
        shutil.rmtree(report / sub, ignore_errors=True)
        (report / sub).mkdir(parents=True, exist_ok=True)

    # tables (written before the figures: the figures draw exactly these numbers)
    holes_df = pd.DataFrame([{"algo": h.algo, "task": h.task, "seed": h.seed, "env_steps": h.env_steps, "reason": h.reason}
                             for h in comp.holes], columns=["algo", "task", "seed", "env_steps", "reason"])
    final_readable = T.with_ci(T.with_ci(final[["algo", "task", "n_seeds", "return_mean", "return_lower", "return_upper",
                                                "return_iqm", "score_mean", "score_lower", "score_upper", "score_iqm",
                                                "diverged_seeds"]],
                                         "return_mean", "return_lower", "return_upper", "return mean [95% CI]"),
                               "score_mean", "score_lower", "score_upper", "normalised mean [95% CI]")
    final_readable = final_readable.rename(columns={"return_iqm": "return IQM", "score_iqm": "normalised IQM"})
    agg_readable = T.with_ci(agg, "point", "lower", "upper", "estimate [CI]")
    poi_readable = T.with_ci(poi, "point", "lower", "upper", "P(improvement) [CI]") if len(poi) else poi
    cov_readable = coverage
    for m in ("distinct_goals", "entropy", "reach_rate"):
        if len(cov_readable):
            cov_readable = T.with_ci(cov_readable, m, f"{m}_lower", f"{m}_upper", f"{m} [CI]")
    modes_readable = T.with_ci(probe_modes, "modes", "modes_lower", "modes_upper", "modes [CI]") if len(probe_modes) else probe_modes
    summary_readable = mm_summary
    for m, label in (("modes", "modes at start [CI]"), ("entropy", "goal entropy (nats) [CI]"),
                     ("distinct_goals", "distinct goals [CI]")):
        if len(summary_readable):
            summary_readable = T.with_ci(summary_readable, m, f"{m}_lower", f"{m}_upper", label)
    cost_readable = cost[["algo", "task", "n_runs", "train_seconds", "env_steps_per_second", "peak_memory_mb",
                          "wall_seconds", "compile_seconds"]]
    tables = {
        "per_task_final": (final, final_readable, "Final evaluation per task: mean over seeds with bootstrap CI, and IQM."),
        "aggregate": (agg, agg_readable, "Aggregate metrics of final normalised scores."),
        "probability_of_improvement": (poi, poi_readable, f"Probability of improvement of {spec.proposed}."),
        "performance_profile": (prof, None, "Performance profiles: fraction of runs with score > tau."),
        "sample_efficiency": (se, None, "IQM normalised score per eval point (env steps and training wall-clock)."),
        "learning_curves": (lc, None, "Per-task learning curves: IQM return over seeds per eval point."),
        "cost": (cost, cost_readable, "Training cost per task (mean over runs; CSV has min and max)."),
        "mode_coverage": (coverage, cov_readable, "Mode coverage of the stochastic policy at the final eval."),
        "goal_distribution": (goals, None, "Reached-goal frequencies of the stochastic policy at the final eval."),
        "probe_modes": (probe_modes, modes_readable, "Action modes of the stochastic policy at each probe state (final eval)."),
        "multimodality_summary": (mm_summary, summary_readable,
                                  "Modes at the start state, reached-goal entropy and distinct goals (final eval)."),
        "missing_cells": (holes_df, None, "Missing cells of the results grid."),
    }
    table_paths = []
    for name, (df, readable, caption) in tables.items():
        for fname, text in T.render(name, df, readable, caption).items():
            p = report / "tables" / fname
            p.write_text(text, encoding="utf-8")
            table_paths.append(p)

    # figures
    conf = spec.confidence
    figs: list[tuple[str, Any, str]] = [
        ("aggregate", F.aggregate_figure(agg, spec.proposed, conf),
         "Aggregate metrics of final normalised scores (table: aggregate)."),
        ("performance_profile", F.profile_figure(prof, spec.proposed, conf),
         "Performance profiles (table: performance_profile)."),
    ]
    if len(poi):
        figs.append(("probability_of_improvement", F.improvement_figure(poi, conf),
                     "Probability of improvement (table: probability_of_improvement)."))
    figs += [
        ("sample_efficiency_env_steps", F.sample_efficiency_figure(se, "env_steps", spec.proposed, conf),
         "IQM normalised score against environment steps (table: sample_efficiency)."),
        ("sample_efficiency_wallclock", F.sample_efficiency_figure(se, "train_seconds", spec.proposed, conf),
         "IQM normalised score against training wall-clock (table: sample_efficiency, column train_seconds)."),
        ("learning_curves", F.learning_curves_figure(lc, spec.proposed, confidence=conf),
         "Per-task learning curves, raw returns (table: learning_curves)."),
        ("cost", F.cost_figure(cost, spec.proposed), "Training cost (table: cost)."),
    ]
    for task in sorted(coverage["task"].unique()) if len(coverage) else []:
        figs.append((f"multimodality_{task.replace('/', '_')}", F.multimodality_figure(goals, coverage, task, spec.proposed, conf),
                     f"{task}: reached-goal distribution and mode coverage (tables: goal_distribution, mode_coverage)."))
    for task in sorted(probe_modes["task"].unique()) if len(probe_modes) else []:
        figs.append((f"probe_actions_{task.replace('/', '_')}",
                     probe_actions_figure(probes, probe_modes, task, spec.proposed, confidence=conf),
                     f"{task}: sampled actions at the probe states per algorithm (table: probe_modes)."))
    fig_paths, fig_blocks = [], {}
    for name, fig, caption in figs:
        fig_paths += save_figure(fig, report / "figures" / name)
        fig_blocks[name] = _Block("figure", text=caption, path=f"figures/{name}")

    # page
    blocks: list[_Block] = [_Block("h1", "dpbench report")]
    if not comp.complete:
        blocks.append(_Block("warn", f"INCOMPLETE RESULTS GRID: {len(comp.holes)} missing cells; see Completeness."))
    blocks += _settings_blocks(results_dir, spec, runs, comp, ref, ref_path)
    blocks += _completeness_blocks(comp, notes)
    blocks += [_Block("h2", "Aggregate performance (final eval, normalised)"), fig_blocks["aggregate"],
               _Block("table", frame=agg_readable), _Block("h2", "Probability of improvement")]
    if len(poi):
        blocks += [fig_blocks["probability_of_improvement"], _Block("table", frame=poi_readable)]
    else:
        blocks.append(_Block("p", f"Skipped: {poi_note}."))
    blocks += [_Block("h2", "Performance profiles"), fig_blocks["performance_profile"],
               _Block("p", "Numbers: `tables/performance_profile.csv`."),
               _Block("h2", "Sample efficiency"), fig_blocks["sample_efficiency_env_steps"],
               fig_blocks["sample_efficiency_wallclock"],
               _Block("table", frame=T.with_ci(se, "iqm", "lower", "upper", "IQM [CI]")),
               _Block("h2", "Per-task final scores"), _Block("table", frame=final_readable),
               _Block("h2", "Per-task learning curves"), fig_blocks["learning_curves"],
               _Block("p", "Numbers: `tables/learning_curves.csv`."),
               _Block("h2", "Cost"), fig_blocks["cost"], _Block("table", frame=cost_readable)]
    if len(coverage):
        blocks += [_Block("h2", "Multimodality (tasks with outcomes)"),
                   _Block("p", "Final eval, stochastic policy. distinct_goals: goals reached at least once per run; "
                               "entropy: of the reached-goal distribution in nats (max ln K); reach_rate: share of "
                               "episodes that reach a goal. Mean over seeds with bootstrap CIs.")]
        blocks += [b for n, b in fig_blocks.items() if n.startswith("multimodality_")]
        blocks += [_Block("table", frame=cov_readable),
                   _Block("table", frame=goals.assign(frequency=goals["frequency"].astype(float)))]
    if len(probe_modes):
        blocks += [_Block("h2", "Per-state action modes (probe states)"),
                   _Block("p", "Final eval: M actions drawn from the stochastic (behaviour) policy at each task-given probe "
                               "state (probes.jsonl); modes = number of density modes of that sample (BIC-selected "
                               "Gaussian mixture, components without a density valley between them merged, clipping "
                               "atoms undone; analysis/modes.py), per seed, then mean over seeds with a stratified "
                               "bootstrap CI. modes_by_seed lists the per-seed counts; saturated is the share of samples "
                               "at the action bound. Goal entropy and distinct goals: as in the Multimodality section.")]
        blocks += [b for n, b in fig_blocks.items() if n.startswith("probe_actions_")]
        blocks += [_Block("table", frame=summary_readable), _Block("table", frame=modes_readable)]
    blocks += [_Block("h2", "Provenance"), _Block("table", frame=_provenance(runs))]

    index_md = report / "index.md"
    index_md.write_text(_md(blocks), encoding="utf-8")
    index_html = report / "index.html"
    index_html.write_text(_html(blocks, report), encoding="utf-8")
    return Report(report, index_md, index_html, tuple(table_paths), tuple(fig_paths), comp, tuple(notes))


def _provenance(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for algo, g in runs.groupby("algo", sort=True):
        rows.append({
            "algo": algo, "algorithm": ", ".join(sorted(set(map(str, g["algorithm"])))),
            "runs": len(g), "config hashes": ", ".join(sorted(set(map(str, g["config_hash"])))),
            "git commits": ", ".join(sorted({str(c)[:10] for c in g["git_commit"]})),
            "dirty": bool(g["git_dirty"].fillna(False).astype(bool).any()),
            "devices": ", ".join(sorted(set(map(str, g["device"])))),
        })
    return pd.DataFrame(rows)

