"""Summarise a CPPO ablation sweep: final-evaluation statistics per (task, variant) across seeds.

    python methods/cppo/summarize_ablation.py results/ablation_cppo [--boot 2000] [--seed 0]

Reads only ``evals.csv`` / ``train_log.jsonl`` / ``manifest.json`` (numpy, no torch). For each
variant and task, over seeds, at the final evaluation point (no best-checkpoint selection): mean and
95% percentile-bootstrap CI of the deterministic return, mean stochastic return, IQM of the
deterministic return, goals reached across the stochastic episodes (tasks with outcomes; mean over
seeds), the "flow" extra mode's deterministic return, and the last logged distillation fitting error
(``fit_swd`` vs its noise floor). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

csv.field_size_limit(sys.maxsize)


def iqm(x: np.ndarray) -> float:
    """Interquartile mean (scipy-free: mean of the middle 50% after sorting, fractional ends weighted)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    lo, hi = 0.25 * n, 0.75 * n
    w = np.clip(np.minimum(np.arange(1, n + 1), hi) - np.maximum(np.arange(n), lo), 0.0, 1.0)
    return float((w * x).sum() / w.sum())


def boot_ci(x: np.ndarray, reps: int, rng: np.random.Generator) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return float("nan"), float("nan")
    means = x[rng.integers(0, len(x), size=(reps, len(x)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def load(root: Path) -> dict[tuple[str, str], list[dict]]:
    runs: dict[tuple[str, str], list[dict]] = {}
    for man in sorted(root.glob("**/manifest.json")):
        m = json.loads(man.read_text())
        if m.get("status") != "complete":
            print(f"# skipped {man.parent} (status {m.get('status')})", file=sys.stderr)
            continue
        rows = list(csv.DictReader(open(man.parent / "evals.csv")))
        last = rows[-1]
        extra = json.loads(last.get("extra") or "{}")
        outcomes = json.loads(last.get("stochastic_outcomes") or "[]")
        log = [json.loads(line) for line in open(man.parent / "train_log.jsonl")] if (man.parent / "train_log.jsonl").exists() else []
        fit = [e for e in log if "fit_swd" in e]
        runs.setdefault((m["task"], m["algo"]), []).append({
            "seed": m["seed"], "det": float(last["return_mean"]), "sto": float(last["stochastic_return_mean"]),
            "goals": len({o for o in outcomes if o >= 0}) if outcomes else None,
            "flow": extra.get("flow", {}).get("return_mean"),
            "fit": fit[-1]["fit_swd"] if fit else None, "floor": fit[-1]["fit_swd_floor"] if fit else None,
            "train_s": float(last["train_seconds"]), "env_steps": int(last["env_steps"]),
        })
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    runs = load(Path(args.root))
    print("| task | variant | seeds | det. return mean [95% CI] | det. IQM | stoch. return | goals reached (stoch., /4) "
          "| flow det. return | fit SWD / floor | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (task, algo), rs in sorted(runs.items()):
        det = np.array([r["det"] for r in rs])
        lo, hi = boot_ci(det, args.boot, rng)
        sto = np.mean([r["sto"] for r in rs])
        goals = [r["goals"] for r in rs if r["goals"] is not None]
        flow = [r["flow"] for r in rs if r["flow"] is not None]
        fit = [r["fit"] for r in rs if r["fit"] is not None]
        floor = [r["floor"] for r in rs if r["floor"] is not None]
        print(f"| {task} | {algo} | {len(rs)} | {det.mean():.2f} [{lo:.2f}, {hi:.2f}] | {iqm(det):.2f} | {sto:.2f} | "
              f"{(f'{np.mean(goals):.2f} ' + str([r['goals'] for r in rs])) if goals else '-'} | "
              f"{f'{np.mean(flow):.2f}' if flow else '-'} | "
              f"{f'{np.mean(fit):.3f} / {np.mean(floor):.3f}' if fit else '-'} | {np.mean([r['train_s'] for r in rs]):.0f} |")


if __name__ == "__main__":
    main()
