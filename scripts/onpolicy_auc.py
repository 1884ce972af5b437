"""Final-point and area-under-the-curve scores with rliable CIs, overall and per task.

    python scripts/onpolicy_auc.py results/onpolicy_cpu [--reps 2000] [--seed 0]

Uses the analysis package only (no torch): records -> completeness check (holes fail) -> fixed
normalisation table -> per run, the final normalised score and the normalised AUC (trapezoid over the
common eval grid, as a fraction of the budget: 1 = the reference maximum from step 0) -> IQM / mean
with rliable's stratified bootstrap (the same seeded call as ``dpbench figures``). Prints Markdown.
"""

from __future__ import annotations

import argparse

import numpy as np

from analysis import stats as S
from analysis.load import load_records, require_complete, usable_frame, validate
from analysis.normalize import load_reference_table, normalize
from analysis.spec import FigureSpec


def _auc(curves: np.ndarray, points) -> np.ndarray:
    """``(runs, tasks, points) -> (runs, tasks)``: trapezoid over budget fractions ``points`` (0..1)."""
    x = np.array([float(p) for p in points])
    return np.trapezoid(curves, x, axis=-1) / (x[-1] - x[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    spec = FigureSpec(reps=args.reps, seed=args.seed)
    records = load_records(args.results)
    comp = validate(records)
    require_complete(comp)
    frame = normalize(usable_frame(records, comp), load_reference_table())
    final, tasks = S.score_matrices(frame, "score")
    curves, tasks_c, points = S.curve_tensors(frame, "score")
    assert tasks == tasks_c
    auc = {a: _auc(c, points) for a, c in curves.items()}
    fmt = lambda r: f"{r.point:.3f} [{r.lower:.3f}, {r.upper:.3f}]"  # noqa: E731
    print(f"tasks: {', '.join(tasks)}; eval points (budget fractions): {', '.join(str(p) for p in points)}; "
          f"seeds: {sorted(int(s) for s in frame['seed'].unique())}; bootstrap reps {args.reps}, seed {args.seed}\n")
    print("| algo | IQM final | IQM AUC | mean final | mean AUC |\n|:---|:---|:---|:---|:---|")
    af, aa = S.aggregate_metrics(final, spec), S.aggregate_metrics(auc, spec)
    for algo in sorted(final):
        row = lambda t, m: t[(t.algo == algo) & (t.metric == m)].iloc[0]  # noqa: E731
        print(f"| {algo} | {fmt(row(af, 'IQM'))} | {fmt(row(aa, 'IQM'))} | {fmt(row(af, 'Mean'))} | {fmt(row(aa, 'Mean'))} |")
    for i, task in enumerate(tasks):
        print(f"\n{task} (per-task; IQM over seeds with stratified-bootstrap CIs):\n")
        print("| algo | IQM final | IQM AUC | final raw returns (deterministic) |\n|:---|:---|:---|:---|")
        fin = frame[(frame.task == task) & (frame.env_steps == frame[frame.task == task].env_steps.max())]
        for algo in sorted(final):
            f1 = S.aggregate_metrics({algo: final[algo][:, i:i + 1]}, spec)
            a1 = S.aggregate_metrics({algo: auc[algo][:, i:i + 1]}, spec)
            raw = fin[fin.algo == algo].sort_values("seed")["return_mean"].round(1).tolist()
            print(f"| {algo} | {fmt(f1[f1.metric == 'IQM'].iloc[0])} | {fmt(a1[a1.metric == 'IQM'].iloc[0])} | {raw} |")


if __name__ == "__main__":
    main()
