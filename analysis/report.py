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
from typing import Any, Sequence

import pandas as pd

from analysis import auc as A
from analysis import figures as F
from analysis import modes as MO
from analysis.modes_figure import probe_actions_figure
from analysis import stats as S
from analysis import tables as T
from analysis.load import (
    Completeness,
    IncompleteGridError,
    NoRecordsError,
    load_records,
    restrict_to_complete,
    usable_frame,
    validate,
)
from analysis.normalize import DEFAULT_TABLE, check_tasks, load_reference_table, normalize
from analysis.protocol import PROTOCOL, eval_definitions
from analysis.reference import label as ref_label
from analysis.reference import reference_frame, reference_lines, reference_rows, split_reference
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
    summary: str = ""
    """Plain-text headline (AUC and final-point aggregates with CIs, reference rows) for the console."""


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


def _settings_blocks(results_dirs: Sequence[Path], spec: FigureSpec, runs: pd.DataFrame, comp: Completeness,
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
            "results: " + ", ".join(f"`{d}`" for d in results_dirs),
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
                    "mean return, normalised: `final` = at the last eval point, `AUC` = the mean over every eval point "
                    "of the grid (step 0 included) of each run, i.e. the area under its normalised learning curve "
                    "divided by the budget. Regenerate with "
                    f"`dpbench figures RESULTS_DIR --reps {spec.reps} --seed {spec.seed} --proposed {spec.proposed}`."),
    ]


def _protocol_blocks(all_runs: pd.DataFrame) -> list[_Block]:
    return [_Block("h2", "Evaluation protocol"), _Block("p", PROTOCOL),
            _Block("p", "What the modes mean for each algorithm (from each run's manifest, key `eval_protocol`):"),
            _Block("table", frame=eval_definitions(all_runs))]


def _readable_per_task(df: pd.DataFrame, prefix: str, label: str) -> pd.DataFrame:
    """``algo, task, n_seeds, <label> return mean [CI], ... IQM, normalised mean [CI], normalised IQM, diverged_seeds``."""
    cols = ["algo", "task", "n_seeds", f"{prefix}return_mean", f"{prefix}return_lower", f"{prefix}return_upper",
            f"{prefix}return_iqm", f"{prefix}score_mean", f"{prefix}score_lower", f"{prefix}score_upper",
            f"{prefix}score_iqm", "diverged_seeds"]
    out = T.with_ci(df[cols], f"{prefix}return_mean", f"{prefix}return_lower", f"{prefix}return_upper",
                    f"{label}return mean [95% CI]")
    out = T.with_ci(out, f"{prefix}score_mean", f"{prefix}score_lower", f"{prefix}score_upper",
                    f"{label}normalised mean [95% CI]")
    return out.rename(columns={f"{prefix}return_iqm": f"{label}return IQM", f"{prefix}score_iqm": f"{label}normalised IQM"})


def _with_reference_rows(readable: pd.DataFrame, ref_readable: pd.DataFrame) -> pd.DataFrame:
    """Methods' rows, then one row per (reference algo, task) labelled ``<algo> (reference)``."""
    if ref_readable.empty:
        return readable
    return pd.concat([readable, ref_readable.assign(algo=[ref_label(a) for a in ref_readable["algo"]])],
                     ignore_index=True)


def _headline(agg_auc: pd.DataFrame, agg: pd.DataFrame) -> pd.DataFrame:
    """``algo, metric, auc_point, auc_lower, auc_upper, final_point, final_lower, final_upper``."""
    a = agg_auc.rename(columns={"point": "auc_point", "lower": "auc_lower", "upper": "auc_upper"})
    f = agg.rename(columns={"point": "final_point", "lower": "final_lower", "upper": "final_upper"})
    return a.merge(f, on=["algo", "metric"], how="left", sort=False, validate="one_to_one")  # keeps agg_auc's order


def _summary(headline: pd.DataFrame, n_points: str, ref_final: pd.DataFrame, ref_auc: pd.DataFrame,
             conf: float) -> str:
    """Console text: the headline table (AUC and final aggregates with CIs), then the reference rows."""
    ci = lambda p, lo, hi: f"{T.format_value(float(p), 3)} [{T.format_value(float(lo), 3)}, {T.format_value(float(hi), 3)}]"  # noqa: E731
    lines = [f"headline score: AUC (mean normalised score over the {n_points} eval points of each run); "
             f"final point beside it; {conf:.0%} stratified-bootstrap CIs"]
    rows = [("algo", "metric", "AUC [CI]", "final [CI]")]
    rows += [(r.algo, r.metric, ci(r.auc_point, r.auc_lower, r.auc_upper), ci(r.final_point, r.final_lower, r.final_upper))
             for r in headline.itertuples()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if not ref_final.empty:
        lines.append("reference rows (raw return, mean over seeds; not in the aggregates):")
        merged = ref_auc.merge(ref_final, on=["algo", "task", "n_seeds"]).sort_values(["task", "algo"], kind="stable")
        for r in merged.itertuples():
            lines.append(f"  {r.task}  {r.algo}: AUC {ci(r.auc_return_mean, r.auc_return_lower, r.auc_return_upper)}, "
                         f"final {ci(r.return_mean, r.return_lower, r.return_upper)} ({r.n_seeds} seeds)")
    return "\n".join(lines)


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
               reference_table: str | Path | None = None, with_dirs: Sequence[str | Path] = ()) -> Report:
    """Load, validate, normalise and analyse ``results_dir``; write ``OUT/report/`` (``OUT`` defaults
    to ``results_dir``). ``with_dirs`` add the runs of other results directories (no overlap allowed).

    Raises :class:`analysis.load.NoRecordsError` (no records), :class:`analysis.normalize.MissingReferenceError`
    (a task without reference scores) and, unless ``allow_incomplete``, :class:`analysis.load.IncompleteGridError`
    (holes, listed exactly). With ``allow_incomplete`` the report lists the holes prominently and the
    statistics use, per algorithm, only the seeds complete on every task.
    """
    spec = FigureSpec(reps=reps, seed=seed, proposed=proposed, allow_incomplete=allow_incomplete)
    results_dir = Path(results_dir)
    out_root = Path(out_dir) if out_dir is not None else results_dir
    ref_path = Path(reference_table) if reference_table is not None else DEFAULT_TABLE

    more = tuple(Path(d) for d in with_dirs)
    all_records = load_records(results_dir, *more)
    records, ref_records = split_reference(all_records)
    if records.runs.empty:
        raise NoRecordsError(f"only reference runs ({', '.join(sorted(set(ref_records.runs['algo'])))}) below "
                             f"{results_dir}: no method to compare")
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
    ref_frame, ref_notes = reference_frame(ref_records, comp.tasks, comp.grids)
    if not ref_frame.empty:
        ref_frame = normalize(ref_frame, ref)

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
    # curve-based score (the headline): the same rliable statistics on per-run AUC matrices
    auc_runs = A.auc_per_run(frame)
    auc_dict, _ = A.auc_matrices(auc_runs, "auc_score")
    agg_auc = S.aggregate_metrics(auc_dict, spec)
    prof_auc = S.performance_profiles(auc_dict, spec)
    poi_auc, _ = S.probability_of_improvement(auc_dict, spec)
    final_auc = A.per_task_auc(frame, spec)
    headline = _headline(agg_auc, agg)
    counts = sorted(set(int(n) for n in auc_runs["n_points"]))
    n_points = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]} (per task)"
    # reference rows (zero/random action): per task, never in the aggregates
    ref_final, ref_auc = reference_rows(ref_frame, spec)
    ref_lines = reference_lines(ref_auc)
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
    final_readable = _with_reference_rows(
        _readable_per_task(final, "", ""),
        _readable_per_task(ref_final, "", "") if len(ref_final) else pd.DataFrame())
    auc_readable = _with_reference_rows(
        _readable_per_task(final_auc, "auc_", "AUC "),
        _readable_per_task(ref_auc, "auc_", "AUC ") if len(ref_auc) else pd.DataFrame())
    agg_readable = T.with_ci(agg, "point", "lower", "upper", "estimate [CI]")
    agg_auc_readable = T.with_ci(agg_auc, "point", "lower", "upper", "estimate [CI]")
    headline_readable = T.with_ci(T.with_ci(headline, "auc_point", "auc_lower", "auc_upper", "AUC [CI] (headline)"),
                                  "final_point", "final_lower", "final_upper", "final point [CI]")
    poi_readable = T.with_ci(poi, "point", "lower", "upper", "P(improvement) [CI]") if len(poi) else poi
    poi_auc_readable = T.with_ci(poi_auc, "point", "lower", "upper", "P(improvement) [CI]") if len(poi_auc) else poi_auc
    ref_cols = ["algo", "task", "n_seeds", "n_points", "env_steps", "return_mean", "return_lower", "return_upper",
                "score_mean", "score_lower", "score_upper", "auc_return_mean", "auc_return_lower", "auc_return_upper",
                "auc_score_mean", "auc_score_lower", "auc_score_upper"]
    ref_table = (ref_final.merge(ref_auc, on=["algo", "task", "n_seeds", "diverged_seeds"])[ref_cols]
                 if len(ref_final) else pd.DataFrame(columns=ref_cols))
    definitions = eval_definitions(all_records.runs)
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
        "headline": (headline, headline_readable,
                     "Headline: aggregate metrics of the AUC score (mean normalised score over the eval points), "
                     "final-point score beside it."),
        "per_task_final": (final, final_readable, "Final evaluation per task: mean over seeds with bootstrap CI, and IQM."),
        "per_task_auc": (final_auc, auc_readable,
                         "AUC per task (mean over the eval points of each run): mean over seeds with bootstrap CI, and IQM."),
        "reference_rows": (ref_table, None, "Zero/random-action reference rows per task (final point and AUC; not competitors)."),
        "aggregate": (agg, agg_readable, "Aggregate metrics of final normalised scores."),
        "aggregate_auc": (agg_auc, agg_auc_readable, "Aggregate metrics of the AUC normalised scores."),
        "probability_of_improvement": (poi, poi_readable, f"Probability of improvement of {spec.proposed}."),
        "probability_of_improvement_auc": (poi_auc, poi_auc_readable,
                                           f"Probability of improvement of {spec.proposed} on the AUC score."),
        "performance_profile": (prof, None, "Performance profiles: fraction of runs with score > tau."),
        "performance_profile_auc": (prof_auc, None, "Performance profiles of the AUC score: fraction of runs with AUC > tau."),
        "eval_definitions": (definitions, None, "What deterministic, stochastic and the extra evaluation modes mean per algorithm."),
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
        ("aggregate_auc", F.aggregate_figure(agg_auc, spec.proposed, conf),
         "Aggregate metrics of the AUC score, the headline (table: aggregate_auc)."),
        ("aggregate", F.aggregate_figure(agg, spec.proposed, conf),
         "Aggregate metrics of final normalised scores (table: aggregate)."),
        ("performance_profile", F.profile_figure(prof, spec.proposed, conf),
         "Performance profiles (table: performance_profile)."),
        ("performance_profile_auc", F.profile_figure(prof_auc, spec.proposed, conf),
         "Performance profiles of the AUC score (table: performance_profile_auc)."),
    ]
    if len(poi):
        figs.append(("probability_of_improvement", F.improvement_figure(poi, conf),
                     "Probability of improvement (table: probability_of_improvement)."))
        figs.append(("probability_of_improvement_auc", F.improvement_figure(poi_auc, conf),
                     "Probability of improvement on the AUC score (table: probability_of_improvement_auc)."))
    figs += [
        ("sample_efficiency_env_steps", F.sample_efficiency_figure(se, "env_steps", spec.proposed, conf),
         "IQM normalised score against environment steps (table: sample_efficiency)."),
        ("sample_efficiency_wallclock", F.sample_efficiency_figure(se, "train_seconds", spec.proposed, conf),
         "IQM normalised score against training wall-clock (table: sample_efficiency, column train_seconds)."),
        ("learning_curves", F.learning_curves_figure(lc, spec.proposed, confidence=conf, references=ref_lines),
         "Per-task learning curves, raw returns (table: learning_curves)"
         + ("; grey lines: reference rows, AUC return (table: reference_rows)." if len(ref_lines) else ".")),
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
    blocks += _settings_blocks((results_dir, *more), spec, runs, comp, ref, ref_path)
    blocks += _protocol_blocks(all_records.runs)
    blocks += _completeness_blocks(comp, notes)
    ref_algos = sorted(set(ref_table["algo"]))
    if ref_notes or ref_algos:
        blocks.append(_Block("p", "Reference rows (" + (", ".join(f"`{a}`" for a in ref_algos) or "none usable")
                             + "): not competitors, so not part of the completeness check, the aggregates, the profiles "
                             "or P(improvement)."))
    if ref_notes:
        blocks.append(_Block("list", items=tuple(ref_notes)))
    blocks += [_Block("h2", "Headline comparison (score: AUC; final point beside it)"),
               _Block("p", f"Headline score: AUC = the mean normalised score over the {n_points} eval points of each "
                           "run (area under the normalised learning curve), aggregated over runs x tasks with "
                           "stratified-bootstrap CIs. The final-point score (last eval point only) is beside it; on noisy "
                           "curves it rests on one evaluation."),
               fig_blocks["aggregate_auc"], _Block("table", frame=headline_readable),
               _Block("h2", "Aggregate performance (final eval, normalised)"), fig_blocks["aggregate"],
               _Block("table", frame=agg_readable), _Block("h2", "Probability of improvement")]
    if len(poi):
        blocks += [_Block("p", "AUC score (headline):"), fig_blocks["probability_of_improvement_auc"],
                   _Block("table", frame=poi_auc_readable), _Block("p", "Final-point score:"),
                   fig_blocks["probability_of_improvement"], _Block("table", frame=poi_readable)]
    else:
        blocks.append(_Block("p", f"Skipped: {poi_note}."))
    blocks += [_Block("h2", "Performance profiles"), fig_blocks["performance_profile_auc"],
               fig_blocks["performance_profile"],
               _Block("p", "Numbers: `tables/performance_profile_auc.csv`, `tables/performance_profile.csv`."),
               _Block("h2", "Sample efficiency"), fig_blocks["sample_efficiency_env_steps"],
               fig_blocks["sample_efficiency_wallclock"],
               _Block("table", frame=T.with_ci(se, "iqm", "lower", "upper", "IQM [CI]")),
               _Block("h2", "Per-task AUC scores"), _Block("table", frame=auc_readable),
               _Block("h2", "Per-task final scores"), _Block("table", frame=final_readable),
               _Block("h2", "Per-task learning curves"), fig_blocks["learning_curves"],
               _Block("p", "Numbers: `tables/learning_curves.csv`"
                           + (", reference lines: `tables/reference_rows.csv`." if len(ref_lines) else ".")),
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
    ref_runs = ref_records.runs[ref_records.runs["algo"].isin(ref_algos) & ref_records.runs["task"].isin(comp.tasks)]
    blocks += [_Block("h2", "Provenance"), _Block("table", frame=_provenance(pd.concat([runs, ref_runs])))]

    index_md = report / "index.md"
    index_md.write_text(_md(blocks), encoding="utf-8")
    index_html = report / "index.html"
    index_html.write_text(_html(blocks, report), encoding="utf-8")
    summary = _summary(headline, n_points, ref_final, ref_auc, conf)
    return Report(report, index_md, index_html, tuple(table_paths), tuple(fig_paths), comp, tuple(notes), summary)


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

