"""The fixed normalisation table: coverage, values, unknown tasks, independence from other algorithms."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from analysis.load import load_records, usable_frame, validate
from analysis.normalize import MissingReferenceError, Reference, check_tasks, load_reference_table, normalize, normalize_value
from harness.records import append_eval_row, read_eval_rows, read_manifest, run_dir, truncate_eval_rows, write_manifest

DMC = ("AcrobotSwingup AcrobotSwingupSparse BallInCup CartpoleBalance CartpoleBalanceSparse CartpoleSwingup "
       "CartpoleSwingupSparse CheetahRun FingerSpin FingerTurnEasy FingerTurnHard FishSwim HopperHop HopperStand "
       "HumanoidStand HumanoidWalk HumanoidRun PendulumSwingup PointMass ReacherEasy ReacherHard SwimmerSwimmer6 "
       "WalkerRun WalkerStand WalkerWalk").split()
ISAAC = ("Isaac-Ant-Direct-v0 Isaac-Humanoid-Direct-v0 Isaac-Cartpole-Direct-v0 Isaac-Lift-Cube-Franka-v0 "
         "Isaac-Velocity-Rough-Anymal-D-v0 Isaac-Velocity-Rough-Go2-v0 Isaac-Velocity-Rough-H1-v0 "
         "Isaac-Repose-Cube-Shadow-Direct-v0 Isaac-Quadcopter-Direct-v0").split()


def test_table_covers_every_task_with_provenance():
    table = load_reference_table()
    expected = {f"playground/{n}" for n in DMC} | {f"isaaclab/{n}" for n in ISAAC} | {"toy/MultiGoal", "toy/Target1D"}
    assert expected <= set(table)
    assert all(table[f"playground/{n}"].min == 0 and table[f"playground/{n}"].max == 1000 for n in DMC)
    assert (table["toy/MultiGoal"].min, table["toy/MultiGoal"].max) == (-2.5, 18.55)
    assert -2.5 == 50 * -0.05 and 18.55 == pytest.approx(10 * (1.0 - 0.1) + 10 - 9 * 0.05)
    assert table["isaaclab/Isaac-Repose-Cube-Shadow-Direct-v0"].max == 8402.0
    assert all(r.provenance for r in table.values())


def test_normalize_value_by_hand():
    ref = Reference("toy/MultiGoal", -2.5, 18.55, "x")
    assert normalize_value(-2.5, ref) == 0.0
    assert normalize_value(18.55, ref) == pytest.approx(1.0)
    assert normalize_value(8.025, ref) == pytest.approx(0.5)  # (8.025 + 2.5) / 21.05


def test_unknown_task_is_an_error_naming_it():
    with pytest.raises(MissingReferenceError, match="toy/Nope"):
        check_tasks(["toy/MultiGoal", "toy/Nope"], load_reference_table())


def test_fixture_scores(tiny):
    rec = load_records(tiny)
    f = normalize(usable_frame(rec, validate(rec)), load_reference_table())
    fin = f[f.env_steps.isin([10000, 100000])].set_index(["algo", "task", "seed"])["score"]
    assert fin[("cppo", "playground/CartpoleBalance", 1)] == pytest.approx(0.8)
    assert fin[("ppo", "toy/MultiGoal", 2)] == pytest.approx(0.5)
    assert fin[("dacer", "toy/MultiGoal", 0)] == pytest.approx(0.4)


def test_adding_an_algorithm_leaves_other_scores_unchanged(tiny_copy):
    def scores(root):
        rec = load_records(root)
        f = normalize(usable_frame(rec, validate(rec)), load_reference_table())
        return f[f.algo != "newalgo"].set_index(["algo", "task", "seed", "env_steps"])["score"].sort_index()

    before = scores(tiny_copy)
    for task in ("toy/MultiGoal", "playground/CartpoleBalance"):
        for seed in (0, 1, 2):
            src, dst = run_dir(tiny_copy, task, "ppo", seed), run_dir(tiny_copy, task, "newalgo", seed)
            shutil.copytree(src, dst)
            m = read_manifest(dst)
            m.update(algo="newalgo", algorithm="newalgo")
            write_manifest(dst, m)
            rows = read_eval_rows(dst)
            truncate_eval_rows(dst, 0)
            for r in rows:  # a much better (out-of-range) algorithm must not rescale anyone
                append_eval_row(dst, {**r, "return_mean": r["return_mean"] * 10 + 5000})
    after = scores(tiny_copy)
    pd.testing.assert_series_equal(before, after)


def test_unknown_task_in_records(tiny_copy, edit_manifest):
    for algo in ("cppo", "ppo", "dacer"):
        for seed in (0, 1, 2):
            edit_manifest(tiny_copy, "toy/MultiGoal", algo, seed, {"task": "toy/Unlisted"})
    rec = load_records(tiny_copy)
    with pytest.raises(MissingReferenceError, match="toy/Unlisted"):
        normalize(usable_frame(rec, validate(rec)), load_reference_table())
