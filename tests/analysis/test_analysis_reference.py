"""Zero/random-action reference rows: not competitors (no completeness check, no aggregate), shown per
task in the score tables and as lines on the curves; old result sets without them are unchanged."""

from __future__ import annotations

import argparse
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli
from analysis.load import NoRecordsError, load_records
from analysis.reference import ReferenceMixError, split_reference
from analysis.report import regenerate

CP, MG = "playground/CartpoleBalance", "toy/MultiGoal"
SAME_WITH_AND_WITHOUT = ("aggregate", "aggregate_auc", "probability_of_improvement", "probability_of_improvement_auc",
                         "performance_profile", "performance_profile_auc", "sample_efficiency", "per_task_final",
                         "per_task_auc", "headline", "learning_curves")


@pytest.fixture(scope="module")
def reports(refs_report, tiny_report):
    """(report with reference runs, report of the bare fixture, records dir with the references)."""
    return refs_report[0], tiny_report, refs_report[1]


def test_split_reference_by_name_and_flag(reports):
    _, _, root = reports
    comp, refs = split_reference(load_records(root))
    assert sorted(set(refs.runs["algo"])) == ["random_action", "still", "zero_action"]
    assert sorted(set(comp.runs["algo"])) == ["cppo", "dacer", "ppo"]
    assert set(refs.evals["algo"]) == set(refs.runs["algo"]) and set(comp.evals["algo"]) == {"cppo", "dacer", "ppo"}


def test_references_leave_every_aggregate_unchanged(reports):
    with_refs, without, _ = reports
    # 2-seed, one-task reference runs would be holes if they were competitors: the grid stays complete
    assert with_refs.completeness.complete and with_refs.completeness.algos == ("cppo", "dacer", "ppo")
    for name in SAME_WITH_AND_WITHOUT:
        a = (with_refs.directory / "tables" / f"{name}.csv").read_bytes()
        b = (without.directory / "tables" / f"{name}.csv").read_bytes()
        assert a == b, name
    for name in ("aggregate", "aggregate_auc", "probability_of_improvement_auc", "performance_profile_auc"):
        algos = set(pd.read_csv(with_refs.directory / "tables" / f"{name}.csv").iloc[:, 0])
        assert not algos & {"zero_action", "random_action", "still"}, name


def test_reference_rows_values(reports):
    with_refs, without, _ = reports
    ref = pd.read_csv(with_refs.directory / "tables" / "reference_rows.csv").set_index("algo")
    assert list(ref.index) == ["random_action", "still", "zero_action"] and set(ref["task"]) == {CP}
    z = ref.loc["zero_action"]
    assert (z["n_seeds"], z["n_points"], z["env_steps"]) == (2, 3, 100000)
    for col in ("return_mean", "return_lower", "return_upper", "auc_return_mean", "auc_return_lower", "auc_return_upper"):
        assert z[col] == pytest.approx(697.0)  # constant: width-0 CI
    assert z["score_mean"] == pytest.approx(0.697) and z["auc_score_mean"] == pytest.approx(0.697)
    r = ref.loc["random_action"]
    assert r["return_mean"] == pytest.approx(150.0) and 100.0 <= r["return_lower"] <= 150.0 <= r["return_upper"] <= 200.0
    assert ref.loc["still", "n_seeds"] == 3 and ref.loc["still", "auc_return_mean"] == pytest.approx(50.0)
    empty = pd.read_csv(without.directory / "tables" / "reference_rows.csv")
    assert empty.empty and "auc_return_mean" in empty.columns


def test_reference_rows_in_tables_report_and_console(reports):
    with_refs, without, _ = reports
    md = (with_refs.directory / "tables" / "per_task_final.md").read_text()
    assert "| zero_action (reference) | playground/CartpoleBalance | 2 | 697 [697, 697] |" in md
    auc_md = (with_refs.directory / "tables" / "per_task_auc.md").read_text()
    assert "| random_action (reference) | playground/CartpoleBalance | 2 | 150 [" in auc_md
    assert "(reference)" not in (without.directory / "tables" / "per_task_final.md").read_text()
    page = with_refs.index_md.read_text()
    assert "Reference rows (`random_action`, `still`, `zero_action`): not competitors" in page
    assert "grey lines: reference rows" in page
    assert "zero_action" in with_refs.summary and "AUC 697 [697, 697], final 697 [697, 697] (2 seeds)" in with_refs.summary
    assert "reference rows" not in without.summary
    # the learning-curve figure changes only by the reference lines
    fa = (with_refs.directory / "figures" / "learning_curves.png").read_bytes()
    fb = (without.directory / "figures" / "learning_curves.png").read_bytes()
    assert fa != fb


def test_failed_reference_run_is_left_out_and_noted(reports):
    with_refs, _, _ = reports
    ref = pd.read_csv(with_refs.directory / "tables" / "reference_rows.csv")
    assert set(ref["task"]) == {CP}  # the failed MultiGoal zero_action run gives no row
    assert "reference run (zero_action, toy/MultiGoal, seed 0) left out" in with_refs.index_md.read_text()


def test_mixed_reference_flag_is_an_error(tiny_copy, edit_manifest):
    edit_manifest(tiny_copy, CP, "dacer", 2, {"reference": True})
    with pytest.raises(ReferenceMixError, match=r"dacer: reference runs \[2\]"):
        regenerate(tiny_copy, reps=50)
    ns = cli.add_arguments(argparse.ArgumentParser()).parse_args([str(tiny_copy)])
    ns.reps = 50
    err = io.StringIO()
    with redirect_stderr(err):
        assert cli.main(ns) == 2
    assert "dacer" in err.getvalue()


def test_only_reference_runs_is_an_error(tmp_path, add_reference_runs):
    add_reference_runs(tmp_path, "zero_action", CP, {0: 697.0})
    with pytest.raises(NoRecordsError, match="only reference runs"):
        regenerate(tmp_path, reps=50)


def test_summary_has_auc_and_final_aggregates(tiny_report):
    text = tiny_report.summary
    assert "headline score: AUC" in text and "AUC [CI]" in text and "final [CI]" in text
    lines = [ln.split() for ln in text.splitlines()]
    cppo_iqm = next(ln for ln in lines if ln[:2] == ["cppo", "IQM"])
    assert cppo_iqm[2] == "0.51" and cppo_iqm[5] == "0.9"  # AUC point, final point
    assert len([ln for ln in lines if ln[:1] in (["cppo"], ["ppo"], ["dacer"])]) == 12  # 3 algos x 4 metrics


def test_cli_prints_the_summary(tiny, tmp_path, monkeypatch, tiny_report):
    import analysis.report

    monkeypatch.setattr(analysis.report, "regenerate", lambda *a, **k: tiny_report)
    ns = cli.add_arguments(argparse.ArgumentParser()).parse_args([str(tiny), "--out", str(tmp_path)])
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(ns) == 0
    assert out.getvalue().startswith(tiny_report.summary + "\n") and "wrote " in out.getvalue()
