"""Area under the normalised learning curve per run, aggregated with rliable (IQM, mean, ... with
stratified-bootstrap CIs), for a results directory. Stop-gap until ``analysis`` reports an AUC itself.

AUC of one run on one task = trapezoid integral of its normalised deterministic score over the task's
own evaluation grid, as a fraction of the budget (so 1.0 = at the reference maximum from the start).

    python scripts/auc_iqm.py results/onpolicy_cpu_genpo_dppo [--reps 2000] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from analysis.load import load_records, usable_frame, validate
from analysis.normalize import DEFAULT_TABLE, load_reference_table, normalize
from analysis.spec import FigureSpec
from analysis.stats import aggregate_metrics


def auc_matrices(frame) -> tuple[dict[str, np.ndarray], list[str]]:
    """``{algo: [seeds, tasks]}`` AUCs of the normalised score over each task's eval grid."""
    tasks = sorted(frame["task"].unique())
    out: dict[str, np.ndarray] = {}
    for algo, g in frame.groupby("algo", sort=True):
        seeds = sorted(g["seed"].unique())
        arr = np.full((len(seeds), len(tasks)), np.nan)
        for (seed, task), r in g.groupby(["seed", "task"]):
            r = r.sort_values("env_steps")
            x = r["env_steps"].to_numpy(float) / r["env_steps"].max()
            y = r["score"].to_numpy(float)
            arr[seeds.index(seed), tasks.index(task)] = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
        out[algo] = arr
    return out, tasks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    records = load_records(args.results)
    frame = normalize(usable_frame(records, validate(records)), load_reference_table(DEFAULT_TABLE))
    mats, tasks = auc_matrices(frame)
    agg = aggregate_metrics(mats, FigureSpec(reps=args.reps, seed=args.seed))
    print(f"AUC of the normalised deterministic score, tasks: {', '.join(tasks)}; reps {args.reps}, seed {args.seed}")
    print("| algo | metric | AUC [95% CI] |\n|---|---|---|")
    for r in agg.itertuples():
        print(f"| {r.algo} | {r.metric} | {r.point:.3f} [{r.lower:.3f}, {r.upper:.3f}] |")
    print("\nper task (mean AUC over seeds):")
    for algo, m in mats.items():
        print(algo, {t: round(float(v), 3) for t, v in zip(tasks, m.mean(0))})


if __name__ == "__main__":
    main()
