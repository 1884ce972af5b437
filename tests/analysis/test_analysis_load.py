"""Loading and completeness validation: holes are reported as exact cells, never filled or dropped."""

from __future__ import annotations

import math
import shutil

import pytest

from analysis.load import (
    Hole,
    IncompleteGridError,
    NoRecordsError,
    load_records,
    require_complete,
    restrict_to_complete,
    usable_frame,
    validate,
)
from analysis.normalize import load_reference_table, normalize
from harness.records import RecordError, run_dir

MG, CP = "toy/MultiGoal", "playground/CartpoleBalance"


def test_fixture_loads_complete(tiny):
    rec = load_records(tiny)
    assert len(rec.runs) == 18 and len(rec.evals) == 54
    comp = validate(rec)
    assert comp.complete and comp.expected_cells == 54
    assert comp.algos == ("cppo", "dacer", "ppo") and comp.seeds == (0, 1, 2)
    assert comp.grids == {CP: (0, 50000, 100000), MG: (0, 5000, 10000)}
    frame = usable_frame(rec, comp)
    assert len(frame) == 54 and not frame["imputed"].any()
    for col in ("algo", "algorithm", "task", "suite", "seed", "status", "eval_index", "env_steps",
                "train_seconds", "eval_seconds", "return_mean", "stochastic_return_mean", "returns"):
        assert col in frame
    row = frame[(frame.algo == "cppo") & (frame.task == CP) & (frame.seed == 2) & (frame.env_steps == 100000)].iloc[0]
    assert row["return_mean"] == 1000.0 and len(row["returns"]) == 4
    assert sum(row["returns"]) / 4 == pytest.approx(1000.0)


def test_no_records(tmp_path):
    with pytest.raises(NoRecordsError):
        load_records(tmp_path)


def test_missing_seed_lists_exact_cells(tiny_copy):
    shutil.rmtree(run_dir(tiny_copy, MG, "ppo", 1))
    comp = validate(load_records(tiny_copy))
    assert not comp.complete
    assert [(h.algo, h.task, h.seed, h.env_steps) for h in comp.holes] == [
        ("ppo", MG, 1, 0), ("ppo", MG, 1, 5000), ("ppo", MG, 1, 10000)]
    assert all(h.reason == "no run" for h in comp.holes)
    with pytest.raises(IncompleteGridError) as e:
        require_complete(comp)
    assert e.value.holes == comp.holes
    assert "(ppo, toy/MultiGoal, seed 1, env_steps 5000)" in str(e.value)


def test_ragged_grid_lists_exact_cells(tiny_copy, keep_eval_rows):
    keep_eval_rows(tiny_copy, CP, "dacer", 2, keep=2)  # last eval point (100000) missing
    comp = validate(load_records(tiny_copy))
    assert comp.holes == (Hole("dacer", CP, 2, 100000),)
    assert comp.holes[0].reason == "missing eval row"
    # --allow-incomplete: dacer seed 2 is left out of every task, and said so.
    rec = load_records(tiny_copy)
    frame, notes = restrict_to_complete(usable_frame(rec, comp), comp)
    assert sorted(frame[frame.algo == "dacer"]["seed"].unique()) == [0, 1]
    assert sorted(frame[frame.algo == "ppo"]["seed"].unique()) == [0, 1, 2]
    assert notes == ["dacer: seeds [2] left out of every statistic (holes on some task)"]


def test_eval_grid_mismatch_is_an_error(tiny_copy, edit_manifest):
    d = edit_manifest(tiny_copy, MG, "cppo", 0, {"budget": {"env_steps": 10000, "eval_every": 2500, "eval_episodes": 8,
                                                          "num_envs": 16, "eval_grid": [0, 2500, 5000, 7500, 10000]}})
    assert d.exists()
    comp = validate(load_records(tiny_copy))
    assert any("eval grid mismatch on toy/MultiGoal" in e for e in comp.errors)
    assert comp.grids[MG] == (0, 2500, 5000, 7500, 10000)
    # every run lacks 2500 and 7500 -> reported as holes for all 9 MultiGoal runs
    assert {(h.env_steps) for h in comp.holes} == {2500, 7500} and len(comp.holes) == 18


def test_diverged_run_scores_reference_minimum(tiny_copy, edit_manifest, keep_eval_rows):
    keep_eval_rows(tiny_copy, MG, "cppo", 1, keep=1)  # only the first eval row recorded
    edit_manifest(tiny_copy, MG, "cppo", 1, {"status": "diverged", "error": "NaN loss"})
    rec = load_records(tiny_copy)
    comp = validate(rec)
    assert comp.complete  # a diverged run is a result
    assert comp.diverged == (("cppo", MG, 1, 5000),)
    assert [(h.env_steps) for h in comp.imputed] == [5000, 10000]
    frame = normalize(usable_frame(rec, comp), load_reference_table())
    run = frame[(frame.algo == "cppo") & (frame.task == MG) & (frame.seed == 1)].set_index("env_steps")
    assert list(run["imputed"]) == [False, True, True]
    assert run.loc[10000, "score"] == 0.0 and run.loc[10000, "return_mean"] == -2.5
    assert run.loc[0, "return_mean"] == pytest.approx(0.1 * 14.34 + 0.9 * -2.5)  # recorded row kept
    assert math.isnan(run.loc[10000, "train_seconds"])


def test_diverged_row_with_nan_return_is_imputed(tiny_copy, edit_manifest):
    import csv

    d = edit_manifest(tiny_copy, CP, "ppo", 0, {"status": "diverged"})
    path = d / "evals.csv"
    rows = list(csv.reader(path.read_text().splitlines()))
    rows[3][rows[0].index("return_mean")] = "nan"  # the final eval (index 2) returned NaN
    path.write_text("\n".join(",".join(f'"{c}"' if "[" in c or "{" in c else c for c in r) for r in rows) + "\n")
    comp = validate(load_records(tiny_copy))
    assert comp.complete and comp.diverged == (("ppo", CP, 0, 100000),)


def test_failed_run_makes_grid_incomplete(tiny_copy, edit_manifest):
    edit_manifest(tiny_copy, CP, "cppo", 0, {"status": "failed", "error": "CUDA OOM"})
    comp = validate(load_records(tiny_copy))
    assert not comp.complete
    assert comp.not_final == (("cppo", CP, 0, "failed", "CUDA OOM"),)
    assert [(h.seed, h.env_steps, h.reason) for h in comp.holes] == [
        (0, 0, "run failed: CUDA OOM"), (0, 50000, "run failed: CUDA OOM"), (0, 100000, "run failed: CUDA OOM")]


def test_records_of_two_result_sets_combine(tiny, tmp_path):
    """``--with``: a baseline stored in another result set joins the comparison; overlaps are refused."""
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(tiny, a)
    shutil.copytree(tiny, b)
    for algo in ("cppo", "dacer"):
        for task in (MG, CP):
            for seed in (0, 1, 2):
                shutil.rmtree(run_dir(b, task, algo, seed))
    shutil.rmtree(run_dir(a, MG, "ppo", 0).parent)
    shutil.rmtree(run_dir(a, CP, "ppo", 0).parent)
    combined = load_records(a, b)
    assert combined.runs[["algo", "task", "seed"]].values.tolist() == load_records(tiny).runs[
        ["algo", "task", "seed"]].values.tolist()
    assert validate(combined).complete
    with pytest.raises(RecordError, match=r"\(ppo, [^)]*\) is recorded twice"):
        load_records(tiny, b)
    with pytest.raises(NoRecordsError, match="below"):
        load_records(a, tmp_path / "empty")
