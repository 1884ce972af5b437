"""Issue 18, item 6: Gaussian PPO before/after desynchronised starts, from two result sets.

    python scripts/protocol_before_after.py results/protocol/sync results/protocol/desync \
        [--task playground/CartpoleBalance] [--algo ppo] [--reps 5000] [--seed 0]

Per run: the final deterministic return and the area under the learning curve (mean deterministic
return over the evaluation grid). Per set: IQM over seeds with a percentile bootstrap CI (one task,
so the stratified bootstrap is the plain one), and the same for reference policies where recorded.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy import stats

from harness import records


def _curves(root: str, task: str, algo: str) -> dict[int, np.ndarray]:
    out = {}
    for d in records.find_runs(root):
        m = records.read_manifest(d)
        if m["task"] == task and m["algo"] == algo and m["status"] == "complete":
            out[int(m["seed"])] = np.array([r["return_mean"] for r in records.read_eval_rows(d)])
    return out


def _iqm_ci(x: np.ndarray, reps: int, seed: int) -> tuple[float, float, float]:
    iqm = lambda v: float(stats.trim_mean(v, 0.25))  # noqa: E731
    rng = np.random.default_rng(seed)
    boot = [iqm(x[rng.integers(0, len(x), len(x))]) for _ in range(reps)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return iqm(x), float(lo), float(hi)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--task", default="playground/CartpoleBalance")
    ap.add_argument("--algo", default="ppo")
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"| set | algo | seeds | final IQM [95% CI] | AUC IQM [95% CI] | final per seed |")
    print("|---|---|---|---|---|---|")
    for label, root in (("before (sync)", args.before), ("after (desync)", args.after)):
        for algo in (args.algo, "zero_action", "random_action"):
            c = _curves(root, args.task, algo)
            if not c:
                continue
            seeds = sorted(c)
            final = np.array([c[s][-1] for s in seeds])
            auc = np.array([c[s].mean() for s in seeds])
            f, flo, fhi = _iqm_ci(final, args.reps, args.seed)
            a, alo, ahi = _iqm_ci(auc, args.reps, args.seed)
            per = ", ".join(f"{v:.0f}" for v in final)
            print(f"| {label} | {algo} | {len(seeds)} | {f:.1f} [{flo:.1f}, {fhi:.1f}] | {a:.1f} [{alo:.1f}, {ahi:.1f}] | {per} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
