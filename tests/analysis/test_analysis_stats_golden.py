"""Statistics goldens: expected values derived by hand (or by a trivially simple second computation),
never copied from the code's output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import stats as S
from analysis.spec import FigureSpec

REPS = 200  # bootstrap repetitions in tests (paper figures use 50 000)

SPEC = FigureSpec(reps=REPS, seed=0)


def test_rliable_readme_golden():
    # rliable's own hand-derived case: x = [[1,2],[2,2],[1,1],[2,1]] -> median = IQM = 1.5.
    x = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
    median, iqm, mean, gap = S.aggregate_functions(x)
    assert median == pytest.approx(1.5) and iqm == pytest.approx(1.5) and mean == pytest.approx(1.5)
    assert gap == pytest.approx(0.0)  # every score >= 1 -> nothing below the optimum


def test_hand_matrix_metrics():
    # 4 runs x 2 tasks. Task means: 0.25 and 0.75 -> mean 0.5, median 0.5.
    # All 8 values sorted: 0,0.2,0.3,0.5,0.5,0.7,0.8,1.0 -> IQM drops 2 each end -> mean(0.3,0.5,0.5,0.7) = 0.5
    # Optimality gap: mean over the 8 values of max(1 - x, 0).
    x = np.array([[0.0, 0.5], [0.2, 0.7], [0.3, 0.8], [0.5, 1.0]])
    median, iqm, mean, gap = S.aggregate_functions(x)
    assert mean == pytest.approx(0.5)
    assert median == pytest.approx(0.5)
    assert iqm == pytest.approx((0.3 + 0.5 + 0.5 + 0.7) / 4)
    assert gap == pytest.approx((1.0 + 0.8 + 0.7 + 0.5 + 0.5 + 0.3 + 0.2 + 0.0) / 8)


def test_median_is_of_task_means():
    # 3 tasks with means 0.1, 0.9, 0.4 -> median 0.4 (not the median of all runs).
    x = np.array([[0.0, 0.8, 0.4], [0.2, 1.0, 0.4]])
    assert S.aggregate_functions(x)[0] == pytest.approx(0.4)


def test_optimality_gap_clips_above_one():
    x = np.array([[1.5, 0.5], [2.0, 0.5]])  # only the 0.5s count: (0.5 + 0.5) / 4
    assert S.aggregate_functions(x)[3] == pytest.approx(0.25)


def _poi_brute(x, y):
    """Independent simple computation: average over tasks of P(X > Y) + 0.5 P(X = Y), by enumeration."""
    per_task = []
    for t in range(x.shape[1]):
        wins = sum((a > b) + 0.5 * (a == b) for a in x[:, t] for b in y[:, t])
        per_task.append(wins / (len(x) * len(y)))
    return float(np.mean(per_task))


def test_probability_of_improvement_goldens():
    # rliable's hand case: x = [[1,2],[2,2],[1,1],[2,1]] vs y = [[1,1],[2,2],[3,3]] -> 1/3.
    x = np.array([[1, 2], [2, 2], [1, 1], [2, 1]], dtype=float)
    y = np.array([[1, 1], [2, 2], [3, 3]], dtype=float)
    df, note = S.probability_of_improvement({"cppo": x, "ppo": y}, SPEC)
    assert note == ""
    assert df.loc[0, "point"] == pytest.approx(1 / 3)
    assert _poi_brute(x, y) == pytest.approx(1 / 3)
    # Fixture-like case worked on paper: task 1 -> 8.5/9 (one tie), task 2 -> 9/9; mean 17.5/18.
    a = np.array([[0.9, 0.9], [0.8, 0.8], [1.0, 1.0]])
    b = np.array([[0.7, 0.7], [0.6, 0.6], [0.8, 0.5]])
    df, _ = S.probability_of_improvement({"cppo": a, "ppo": b}, SPEC)
    assert df.loc[0, "point"] == pytest.approx(17.5 / 18)
    assert df.loc[0, "lower"] <= df.loc[0, "point"] <= df.loc[0, "upper"]


def test_probability_of_improvement_skips_without_proposed():
    df, note = S.probability_of_improvement({"ppo": np.ones((3, 2))}, FigureSpec(reps=10, proposed="cppo"))
    assert df.empty and "cppo" in note


def test_seeded_bootstrap_is_reproducible_and_contains_point():
    rng = np.random.default_rng(123)
    sd = {"a": rng.uniform(size=(5, 3)), "b": rng.uniform(size=(5, 3))}
    one = S.aggregate_metrics(sd, SPEC)
    np.random.seed(999)  # unrelated global-RNG use between the calls must not matter
    np.random.uniform(size=10)
    two = S.aggregate_metrics(sd, SPEC)
    pd.testing.assert_frame_equal(one, two)
    assert (one["lower"] <= one["point"] + 1e-12).all() and (one["point"] <= one["upper"] + 1e-12).all()
    assert (one["upper"] > one["lower"]).all()
    other_seed = S.aggregate_metrics(sd, FigureSpec(reps=REPS, seed=1))
    assert not np.allclose(other_seed["lower"], one["lower"])  # the seed does drive the bootstrap


def test_ci_width_zero_when_all_runs_equal():
    sd = {"a": np.full((4, 3), 0.7)}
    df = S.aggregate_metrics(sd, SPEC)
    assert np.allclose(df["upper"] - df["lower"], 0.0)
    assert np.allclose(df.set_index("metric").loc[["Median", "IQM", "Mean"], "point"], 0.7)
    assert df.set_index("metric").loc["Optimality Gap", "point"] == pytest.approx(0.3)


def test_ci_shrinks_as_runs_grow():
    base = np.array([0.2, 0.4, 0.6, 0.8])
    small = {"a": np.tile(base, 1)[:, None]}
    large = {"a": np.tile(base, 8)[:, None]}
    w = lambda d: float(S.aggregate_metrics(d, SPEC).set_index("metric").loc["Mean", ["lower", "upper"]].diff().iloc[-1])  # noqa: E731
    assert w(large) < w(small)


def test_other_algorithms_do_not_change_an_algorithms_cis():
    rng = np.random.default_rng(5)
    a = rng.uniform(size=(5, 2))
    alone = S.aggregate_metrics({"a": a}, SPEC)
    together = S.aggregate_metrics({"a": a, "z": rng.uniform(size=(5, 2)), "0": rng.uniform(size=(5, 2))}, SPEC)
    pd.testing.assert_frame_equal(alone, together[together["algo"] == "a"].reset_index(drop=True))


def test_performance_profile_hand_values():
    # runs x tasks scores 0.1, 0.5, 0.9, 0.9: fraction > 0 is 1, > 0.6 is 1/2, > 1.2 is 0.
    sd = {"a": np.array([[0.1, 0.5], [0.9, 0.9]])}
    prof = S.performance_profiles(sd, FigureSpec(reps=REPS, tau_points=5, tau_max=1.2)).set_index("tau")
    assert prof.loc[0.0, "fraction"] == 1.0
    assert prof.loc[0.6, "fraction"] == pytest.approx(0.5)
    assert prof.loc[1.2, "fraction"] == 0.0


def test_mode_coverage_hand_values():
    # One run: goals 0,1,2,3 twice each -> 4 distinct, entropy ln 4, reach rate 1.
    assert S._coverage_of([0, 1, 2, 3] * 2, 4) == pytest.approx((4, np.log(4), 1.0))
    # 0,0,1,-1: distinct 2, p = (2/3, 1/3), reach 3/4.
    h = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    assert S._coverage_of([0, 0, 1, -1], 4) == pytest.approx((2, h, 0.75))
    assert S._coverage_of([-1, -1], 4) == (0.0, 0.0, 0.0)
    assert S._coverage_of([], 4) == (0.0, 0.0, 0.0)


def test_common_points_never_interpolate():
    from fractions import Fraction

    common, identical = S.common_points({"a": (0, 50, 100), "b": (0, 25, 50, 75, 100)})
    assert common == (Fraction(0), Fraction(1, 2), Fraction(1)) and not identical
    common, identical = S.common_points({"a": (0, 10), "b": (0, 10)})
    assert identical
