"""Curve-based score (AUC = mean normalised score over the eval points of a run): hand-computed cases.

The fixture's learning curve is 10 % / 60 % / 100 % of the way from the reference minimum to the final
return, so every run's normalised AUC is exactly (0.1 + 0.6 + 1.0) / 3 = 1.7 / 3 times its final score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.auc import auc_matrices, auc_per_run, per_task_auc
from analysis.load import load_records, usable_frame, validate
from analysis.normalize import load_reference_table, normalize
from analysis.spec import FigureSpec

K = (0.1 + 0.6 + 1.0) / 3
CP, MG = "playground/CartpoleBalance", "toy/MultiGoal"
SPEC = FigureSpec(reps=200, seed=0)


def _frame(root):
    rec = load_records(root)
    return normalize(usable_frame(rec, validate(rec)), load_reference_table())


def _hand_frame(scores: dict[tuple[str, str, int], list[float]], grid=(0, 10, 20, 30)) -> pd.DataFrame:
    rows = []
    for (algo, task, seed), ys in scores.items():
        for step, y in zip(grid, ys):
            rows.append({"algo": algo, "task": task, "seed": seed, "env_steps": step, "status": "complete",
                         "return_mean": 1000.0 * y, "score": y})
    return pd.DataFrame(rows)


def test_auc_of_a_known_curve():
    # a triangle 0 -> 0.5 -> 1 -> 0.5: mean of the four points 0.5; a constant curve: the constant
    per_run = auc_per_run(_hand_frame({("a", "t", 0): [0.0, 0.5, 1.0, 0.5], ("a", "t", 1): [0.3] * 4,
                                       ("b", "t", 0): [1.0, 0.0, 0.0, 0.0], ("b", "t", 1): [0.0, 0.0, 0.0, 1.0]}))
    got = per_run.set_index(["algo", "seed"])
    assert got.loc[("a", 0), "auc_score"] == pytest.approx(0.5)
    assert got.loc[("a", 0), "auc_return"] == pytest.approx(500.0)
    assert got.loc[("a", 1), "auc_score"] == pytest.approx(0.3)
    # the same final score (0 vs 1) but the AUC does not see where the mass is: both 0.25
    assert got.loc[("b", 0), "auc_score"] == pytest.approx(0.25) == got.loc[("b", 1), "auc_score"]
    assert set(per_run["n_points"]) == {4}
    mats, tasks = auc_matrices(per_run)
    assert tasks == ("t",)
    np.testing.assert_allclose(mats["a"], [[0.5], [0.3]])


def test_auc_rejects_missing_points_and_nan():
    f = _hand_frame({("a", "t", 0): [0.0, 0.5, 1.0, 0.5], ("a", "t", 1): [0.3] * 4})
    with pytest.raises(ValueError, match=r"\(a, t, seed 1\): 3"):
        auc_per_run(f.drop(index=7))  # seed 1 lost its last point
    f.loc[2, "score"] = math.nan
    with pytest.raises(ValueError, match="finite normalised score"):
        auc_per_run(f)


def test_auc_on_fixture_is_k_times_final(tiny):
    frame = _frame(tiny)
    per_run = auc_per_run(frame)
    final = frame[frame["env_steps"] == frame.groupby("task")["env_steps"].transform("max")]
    merged = per_run.merge(final[["algo", "task", "seed", "score"]], on=["algo", "task", "seed"])
    np.testing.assert_allclose(merged["auc_score"], K * merged["score"], rtol=1e-9)
    t = per_task_auc(frame, SPEC).set_index(["algo", "task"])
    # cppo CartpoleBalance finals 900, 800, 1000: curves (90, 540, 900), (80, 480, 800), (100, 600, 1000)
    assert t.loc[("cppo", CP), "auc_return_mean"] == pytest.approx((510 + 1360 / 3 + 1700 / 3) / 3)
    assert t.loc[("cppo", CP), "auc_score_mean"] == pytest.approx(K * 0.9)
    assert t.loc[("cppo", CP), "n_points"] == 3
    # MultiGoal dacer: raw AUC = K * final + (1 - K) * (-2.5)
    assert t.loc[("dacer", MG), "auc_return_mean"] == pytest.approx(K * (5.92 + 1.71 + 3.815) / 3 + (1 - K) * -2.5)
    assert t.loc[("ppo", MG), "auc_score_lower"] <= t.loc[("ppo", MG), "auc_score_mean"] <= t.loc[("ppo", MG), "auc_score_upper"]


def test_auc_of_diverged_run_counts_imputed_cells_as_zero(tiny_copy, edit_manifest, keep_eval_rows):
    keep_eval_rows(tiny_copy, CP, "ppo", 1, keep=2)
    edit_manifest(tiny_copy, CP, "ppo", 1, {"status": "diverged"})
    per_run = auc_per_run(_frame(tiny_copy)).set_index(["algo", "task", "seed"])
    # ppo seed 1 final 600: scores 0.06, 0.36 recorded, last point imputed 0
    assert per_run.loc[("ppo", CP, 1), "auc_score"] == pytest.approx((0.06 + 0.36 + 0.0) / 3)


def test_report_auc_aggregates_and_headline(tiny_report):
    r = tiny_report
    t = r.directory / "tables"
    agg = pd.read_csv(t / "aggregate_auc.csv").set_index(["algo", "metric"])["point"]
    # cppo final scores (CP, MG): (.9,.9), (.8,.8), (1,1); AUC = K x final
    assert agg[("cppo", "IQM")] == pytest.approx(K * 0.9)
    assert agg[("cppo", "Optimality Gap")] == pytest.approx(1 - K * 0.9)
    assert agg[("ppo", "Mean")] == pytest.approx(K * 0.65)
    poi = pd.read_csv(t / "probability_of_improvement_auc.csv").set_index("baseline")["point"]
    assert poi["ppo"] == pytest.approx(17.5 / 18) and poi["dacer"] == pytest.approx(1.0)  # ranks unchanged by K
    head = pd.read_csv(t / "headline.csv").set_index(["algo", "metric"])
    assert head.loc[("cppo", "IQM"), "auc_point"] == pytest.approx(K * 0.9)
    assert head.loc[("cppo", "IQM"), "final_point"] == pytest.approx(0.9)
    assert len(head) == 3 * 4
    assert list(head.loc["cppo"].index) == ["Median", "IQM", "Mean", "Optimality Gap"]  # the aggregate table's order
    prof = pd.read_csv(t / "performance_profile_auc.csv")
    # every cppo AUC is K x (0.8..1.0) = 0.453..0.567: all above tau = 0.45, none above 0.6
    at = prof[prof["algo"] == "cppo"].set_index("tau")["fraction"]
    assert at[at.index <= 0.45].min() == 1.0 and at[at.index >= 0.6].max() == 0.0
    md = r.index_md.read_text()
    assert "Headline comparison (score: AUC; final point beside it)" in md
    assert "Per-task AUC scores" in md and "AUC [CI] (headline)" in md
    assert "AUC" in r.summary and "final" in r.summary and "0.51" in r.summary
