"""The per-state mode count discriminates: synthetic action samples with a known number of modes.

numpy only (runs in the torch-free ``analysis`` tox env). The policy-level checks (a synthetic
4-mode policy in ``toy/MultiGoalSQL`` scores 4 modes at the start state, a wide Gaussian 1 mode with
high goal entropy) are in ``tests/suites/test_multigoal_sql.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.modes import ModeCounter, count_modes, multimodality_summary, probe_mode_table
from analysis.spec import FigureSpec

GOAL_DIRS = np.array([(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)])


def mixture(rng, centres, std, m=256):
    k = rng.integers(len(centres), size=m)
    return np.clip(np.asarray(centres)[k] + std * rng.standard_normal((m, 2)), -1, 1)


@pytest.mark.parametrize("seed", range(4))
def test_four_mode_mixture_counts_four(seed):
    rng = np.random.default_rng(seed)
    assert count_modes(mixture(rng, 0.5 * GOAL_DIRS, 0.1)) == 4


@pytest.mark.parametrize("seed", range(4))
def test_two_mode_mixture_counts_two(seed):
    rng = np.random.default_rng(100 + seed)
    assert count_modes(mixture(rng, 0.5 * GOAL_DIRS[[0, 2]], 0.1)) == 2


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("std", [0.05, 0.1, 0.3])
def test_single_gaussian_counts_one(seed, std):
    rng = np.random.default_rng(200 + seed)
    assert count_modes(mixture(rng, [(0.3, -0.1)], std)) == 1


@pytest.mark.parametrize("seed", range(3))
def test_skewed_and_clipped_single_modes_count_one(seed):
    """A skewed unimodal sample is fitted by several Gaussians (the valley test merges them); a wide
    Gaussian clipped to the box piles atoms onto edges and corners (left out of the count)."""
    rng = np.random.default_rng(300 + seed)
    skew = np.stack([rng.gamma(2.0, 0.15, 256) - 0.3, 0.1 * rng.standard_normal(256)], 1)
    assert count_modes(skew) == 1
    assert count_modes(mixture(rng, [(0.0, 0.0)], 1.0)) == 1  # ~50 % of the samples clipped
    assert count_modes(mixture(rng, [(0.35, -0.35)], 0.5)) == 1
    # mean beyond the bound (Gaussian PPO late in training): most samples clipped to x = -1
    heavy = np.clip(np.array([-1.3, 0.2]) + np.array([0.4, 0.5]) * rng.standard_normal((256, 2)), -1, 1)
    assert count_modes(heavy) == 1


@pytest.mark.parametrize("seed", range(3))
def test_modes_on_the_bound_still_count(seed):
    """Four modes centred on the box's edges (half of each clipped) are still four."""
    rng = np.random.default_rng(400 + seed)
    assert count_modes(mixture(rng, GOAL_DIRS, 0.1)) == 4


def test_policy_on_the_bound_is_counted_as_it_acts():
    """Bang-bang: every sample on a corner -> the corners are the modes."""
    rng = np.random.default_rng(12)
    corners = np.array([(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0)])[rng.integers(3, size=256)]
    assert count_modes(corners) == 3


def test_close_modes_merge_far_modes_do_not():
    """Two Gaussians 1 std apart form one mode (no density valley); 6 std apart, two."""
    rng = np.random.default_rng(7)
    assert count_modes(mixture(rng, [(-0.05, 0.0), (0.05, 0.0)], 0.1)) == 1
    assert count_modes(mixture(rng, [(-0.3, 0.0), (0.3, 0.0)], 0.1)) == 2


def test_unbalanced_minor_mode_needs_min_weight():
    rng = np.random.default_rng(8)
    major = 0.5 * GOAL_DIRS[0] + 0.08 * rng.standard_normal((246, 2))
    minor = 0.5 * GOAL_DIRS[1] + 0.08 * rng.standard_normal((10, 2))  # 4 % of the mass
    x = np.concatenate([major, minor])
    assert count_modes(x) == 1
    assert count_modes(x, ModeCounter(min_weight=0.02)) == 2


def test_count_is_deterministic_and_validates_shape():
    x = mixture(np.random.default_rng(9), 0.5 * GOAL_DIRS, 0.1)
    assert count_modes(x) == count_modes(x.copy())
    assert count_modes(np.zeros((0, 2))) == 0
    with pytest.raises(ValueError):
        count_modes(np.zeros(5))


def _final(algo_samples: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    rows = []
    for algo, per_seed in algo_samples.items():
        for seed, a in enumerate(per_seed):
            rows.append({"algo": algo, "task": "toy/X", "seed": seed, "eval_index": 1, "env_steps": 100,
                         "probe": "start", "obs": (0.0, 0.0), "actions": a})
    return pd.DataFrame(rows)


def test_probe_mode_table_means_and_cis():
    rng = np.random.default_rng(10)
    four = [mixture(rng, 0.5 * GOAL_DIRS, 0.1) for _ in range(5)]
    one = [mixture(rng, [(0.5, 0.0)], 0.1) for _ in range(5)]
    mixed = four[:2] + one[:3]  # 4, 4, 1, 1, 1
    t = probe_mode_table(_final({"multi": four, "uni": one, "mixed": mixed}), FigureSpec(reps=200))
    t = t.set_index("algo")
    assert t.loc["multi", "modes"] == 4 and t.loc["multi", "modes_lower"] == 4 == t.loc["multi", "modes_upper"]
    assert t.loc["uni", "modes"] == 1 and t.loc["uni", "modes_upper"] == 1
    assert t.loc["mixed", "modes"] == pytest.approx(2.2)
    assert t.loc["mixed", "modes_lower"] < 2.2 < t.loc["mixed", "modes_upper"]
    assert t.loc["mixed", "modes_by_seed"] == "4 4 1 1 1"
    assert t.loc["uni", "saturated"] == 0.0


def test_summary_joins_goal_coverage():
    rng = np.random.default_rng(11)
    modes = probe_mode_table(_final({"a": [mixture(rng, 0.5 * GOAL_DIRS, 0.1)]}), FigureSpec(reps=50))
    cov = pd.DataFrame([{"algo": "a", "task": "toy/X", "n_goals": 4, "max_entropy": np.log(4), "n_seeds": 1,
                         "episodes": 8, "distinct_goals": 4.0, "distinct_goals_lower": 4.0,
                         "distinct_goals_upper": 4.0, "entropy": 1.3, "entropy_lower": 1.3, "entropy_upper": 1.3,
                         "reach_rate": 1.0, "reach_rate_lower": 1.0, "reach_rate_upper": 1.0}])
    s = multimodality_summary(modes, cov)
    assert list(s["modes"]) == [4.0] and list(s["entropy"]) == [1.3]
