"""Zero-action and random-action reference rows: policies that never learn, shown beside the methods.

A *reference run* is a run whose manifest carries ``"reference": true`` or whose algorithm is one of
:data:`REFERENCE_ALGOS` (``zero_action``, ``random_action``). Reference runs are not competitors:

* they are split off before the completeness check across algorithms (a task or seed without a
  reference run is no hole of the comparison), and are left out of every rliable aggregate,
  performance profile and probability of improvement;
* per task, each reference algorithm gets one row in the score tables: the mean over its seeds (with
  a stratified-bootstrap CI) of the final-point return and of the AUC return, raw and normalised,
  computed with the same functions as the methods' rows;
* on the per-task learning curves it is a horizontal line at its AUC return (mean over its seeds and
  eval points), so a reader sees when a method is below doing nothing.

Reference runs are validated on their own (:func:`analysis.load.validate`); a failed or incomplete
reference run is left out of its row, and everything left out is returned as a note for the report.
Result sets without reference runs work exactly as before.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from analysis.auc import per_task_auc
from analysis.load import REFERENCE_ALGOS, Records, usable_frame, validate
from analysis.spec import FigureSpec
from analysis.stats import per_task_final

__all__ = ["REFERENCE_ALGOS", "REFERENCE_SUFFIX", "ReferenceMixError", "split_reference", "reference_frame",
           "reference_rows", "reference_lines", "label"]

REFERENCE_SUFFIX = " (reference)"
"""Appended to a reference algorithm's name where it shares a table with the methods."""


class ReferenceMixError(ValueError):
    """One algorithm has both reference and non-reference runs (its manifests disagree)."""


def label(algo: str) -> str:
    """Table label of a reference algorithm: ``"zero_action (reference)"``."""
    return f"{algo}{REFERENCE_SUFFIX}"


def split_reference(records: Records) -> tuple[Records, Records]:
    """``(competitors, references)``: the records split by the run frame's ``reference`` column.

    Raises :class:`ReferenceMixError` naming the algorithm when its runs disagree on ``reference``.
    """
    runs, evals = records.runs, records.evals
    flags = runs.groupby("algo")["reference"].nunique()
    mixed = sorted(flags[flags > 1].index)
    if mixed:
        detail = "; ".join(
            f"{a}: reference runs {sorted(runs[(runs['algo'] == a) & runs['reference']]['seed'].tolist())}, "
            f"others {sorted(runs[(runs['algo'] == a) & ~runs['reference']]['seed'].tolist())}" for a in mixed)
        raise ReferenceMixError(f"algorithms with both reference and non-reference runs (manifest key 'reference'): {detail}")
    ref_algos = set(runs[runs["reference"].astype(bool)]["algo"])
    is_ref_run = runs["algo"].isin(ref_algos)
    is_ref_row = evals["algo"].isin(ref_algos)
    competitors = Records(runs[~is_ref_run].reset_index(drop=True), evals[~is_ref_row].reset_index(drop=True))
    references = Records(runs[is_ref_run].reset_index(drop=True), evals[is_ref_row].reset_index(drop=True))
    return competitors, references


def reference_frame(references: Records, tasks: Iterable[str],
                    grids: dict[str, tuple[int, ...]]) -> tuple[pd.DataFrame, list[str]]:
    """Usable eval frame of the reference runs on the compared ``tasks``, and notes on what is left out.

    A reference run is used when it is complete (or diverged, with the usual imputation) on its own
    eval grid; a failed/unfinished run or one with missing eval rows is left out (noted). Reference runs
    on tasks that no method ran are ignored (noted); a reference grid that differs from the methods'
    grid of the task is used as recorded and noted.
    """
    notes: list[str] = []
    if references.runs.empty:
        return references.evals.iloc[0:0].copy(), notes
    tasks = set(tasks)
    comp = validate(references)
    frame = usable_frame(references, comp)
    for e in comp.errors:
        notes.append(f"reference records: {e}")
    drop = {(h.algo, h.task, h.seed) for h in comp.holes if h.reason != "no run"}
    drop |= {(a, t, s) for a, t, s, _, _ in comp.not_final}
    for a, t, s in sorted(drop):
        notes.append(f"reference run ({a}, {t}, seed {s}) left out: failed, unfinished or missing eval rows")
    keys = list(zip(frame["algo"], frame["task"], frame["seed"]))
    frame = frame[[k not in drop for k in keys]]
    for t in sorted(set(frame["task"]) - tasks):
        notes.append(f"reference runs on {t} ignored: no method ran this task")
    frame = frame[frame["task"].isin(tasks)]
    for t in sorted(set(frame["task"])):
        if comp.grids[t] != tuple(grids[t]):
            notes.append(f"reference runs on {t} use eval grid {list(comp.grids[t])}, the methods {list(grids[t])}")
    return frame.reset_index(drop=True), notes


def reference_rows(frame: pd.DataFrame, spec: FigureSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (reference algo, task): ``(final, auc)`` frames in the layouts of
    :func:`analysis.stats.per_task_final` and :func:`analysis.auc.per_task_auc`.

    Each (algo, task) is bootstrapped on its own (its seeds may differ from other tasks' and from the
    methods'), with the spec's seed and reps. ``frame`` is the normalised :func:`reference_frame`.
    """
    finals, aucs = [], []
    for _, g in frame.groupby(["algo", "task"], sort=True):
        finals.append(per_task_final(g, spec))
        aucs.append(per_task_auc(g, spec))
    if not finals:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(finals, ignore_index=True), pd.concat(aucs, ignore_index=True)


def reference_lines(auc: pd.DataFrame) -> pd.DataFrame:
    """Horizontal lines for the per-task learning curves: ``algo, task, return_mean`` = the reference's AUC
    return (mean over its seeds and eval points)."""
    if auc.empty:
        return pd.DataFrame(columns=["algo", "task", "return_mean"])
    return auc[["algo", "task", "auc_return_mean"]].rename(columns={"auc_return_mean": "return_mean"}).reset_index(drop=True)
