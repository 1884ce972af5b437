"""End-to-end: ``regenerate`` / ``dpbench figures`` on the fixture records."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pandas as pd
import pytest

from analysis import cli
from analysis.report import regenerate
from harness.records import run_dir

REPS = 200
ROOT = Path(__file__).resolve().parents[2]
MG, CP = "toy/MultiGoal", "playground/CartpoleBalance"


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory, tiny_report):
    tiny = Path(__file__).resolve().parent / "fixtures" / "results_tiny"
    assert REPS == 200  # tiny_report (conftest) is regenerate(tiny, ..., reps=200, seed=0)
    return tiny_report, regenerate(tiny, tmp_path_factory.mktemp("b"), reps=REPS, seed=0)


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_report_written(two_reports):
    r, _ = two_reports
    names = {p.name for p in r.figures}
    for stem in ("aggregate", "performance_profile", "probability_of_improvement", "sample_efficiency_env_steps",
                 "sample_efficiency_wallclock", "learning_curves", "cost", "multimodality_toy_MultiGoal"):
        assert f"{stem}.png" in names and f"{stem}.pdf" in names
    for stem in ("per_task_final", "aggregate", "probability_of_improvement", "performance_profile",
                 "sample_efficiency", "learning_curves", "cost", "mode_coverage", "goal_distribution"):
        for ext in ("csv", "md", "tex"):
            assert (r.directory / "tables" / f"{stem}.{ext}").is_file()
    md = r.index_md.read_text()
    assert "reps = 200" in md and "np.random.seed(0)" in md and "missing cells: 0" in md
    assert "figures/aggregate.png" in md and "18.55" in md
    html = r.index_html.read_text()
    assert html.count("data:image/png;base64,") == len(r.figures) // 2


def test_report_is_deterministic(two_reports):
    a, b = two_reports
    fa, fb = _files(a.directory), _files(b.directory)
    assert fa.keys() == fb.keys()
    differ = [k for k in fa if fa[k] != fb[k]]
    assert differ == []  # tables, Markdown, HTML and PNG/PDF figures are byte-identical


def test_table_goldens(two_reports):
    r, _ = two_reports
    t = r.directory / "tables"
    final = pd.read_csv(t / "per_task_final.csv").set_index(["algo", "task"])
    # hand values: cppo CartpoleBalance returns 900, 800, 1000 -> mean 900, normalised 0.9
    assert final.loc[("cppo", CP), "return_mean"] == pytest.approx(900.0)
    assert final.loc[("cppo", CP), "score_mean"] == pytest.approx(0.9)
    assert final.loc[("ppo", MG), "score_mean"] == pytest.approx(0.6)  # 0.7, 0.6, 0.5
    assert final.loc[("dacer", MG), "return_iqm"] == pytest.approx((5.92 + 1.71 + 3.815) / 3)  # n=3: no trimming
    agg = pd.read_csv(t / "aggregate.csv").set_index(["algo", "metric"])["point"]
    # cppo final scores (CP, MG): (.9,.9), (.8,.8), (1,1); ppo: (.7,.7), (.6,.6), (.8,.5)
    assert agg[("cppo", "IQM")] == pytest.approx(0.9) and agg[("cppo", "Optimality Gap")] == pytest.approx(0.1)
    assert agg[("ppo", "Mean")] == pytest.approx(0.65) and agg[("ppo", "Optimality Gap")] == pytest.approx(0.35)
    poi = pd.read_csv(t / "probability_of_improvement.csv").set_index("baseline")["point"]
    assert poi["ppo"] == pytest.approx(17.5 / 18) and poi["dacer"] == pytest.approx(1.0)
    cov = pd.read_csv(t / "mode_coverage.csv").set_index("algo")
    assert cov.loc["cppo", "distinct_goals"] == pytest.approx((4 + 3 + 2) / 3)
    assert cov.loc["ppo", "entropy"] == 0.0 and cov.loc["ppo", "entropy_upper"] == 0.0
    goals = pd.read_csv(t / "goal_distribution.csv").set_index(["algo", "goal"])
    assert goals.loc[("dacer", "none"), "count"] == 2 + 4 + 8
    se = pd.read_csv(t / "sample_efficiency.csv").set_index(["algo", "point"])
    assert se.loc[("ppo", 2), "iqm"] == pytest.approx(0.65)
    assert se.loc[("ppo", 2), "train_seconds"] == pytest.approx((24 + 40) / 2)  # median of 20,22,24,40,44,48
    cost = pd.read_csv(t / "cost.csv").set_index(["algo", "task"])
    assert cost.loc[("ppo", MG), "train_seconds"] == pytest.approx(22.0)


def _args(results, out=None, **kw):
    ns = cli.add_arguments(argparse.ArgumentParser()).parse_args([str(results)] + (["--out", str(out)] if out else []))
    ns.reps = 50  # exit codes and content only; the bootstrap itself is covered with REPS elsewhere
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def _run_cli(ns) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(ns)
    return code, err.getvalue()


def test_cli_no_records(tmp_path):
    code, err = _run_cli(_args(tmp_path))
    assert code == 2 and "no run records" in err


def test_cli_unknown_task(tiny_copy, edit_manifest):
    for algo in ("cppo", "ppo", "dacer"):
        for seed in (0, 1, 2):
            edit_manifest(tiny_copy, MG, algo, seed, {"task": "toy/Unlisted"})
    code, err = _run_cli(_args(tiny_copy))
    assert code == 2 and "toy/Unlisted" in err


def test_cli_incomplete_grid_then_allow_incomplete(tiny_copy, tmp_path, keep_eval_rows):
    shutil.rmtree(run_dir(tiny_copy, MG, "ppo", 1))
    keep_eval_rows(tiny_copy, CP, "dacer", 0, keep=2)
    code, err = _run_cli(_args(tiny_copy, tmp_path / "out"))
    assert code == 2
    assert "missing: (dacer, playground/CartpoleBalance, seed 0, env_steps 100000): missing eval row" in err
    assert "missing: (ppo, toy/MultiGoal, seed 1, env_steps 0): no run" in err
    assert not (tmp_path / "out" / "report").exists()
    code, err = _run_cli(_args(tiny_copy, tmp_path / "out", allow_incomplete=True))
    assert code == 0 and "WARNING" in err
    md = (tmp_path / "out" / "report" / "index.md").read_text()
    assert "INCOMPLETE RESULTS GRID: 4 missing cells" in md
    assert "ppo: seeds [1] left out" in md and "dacer: seeds [0] left out" in md
    holes = pd.read_csv(tmp_path / "out" / "report" / "tables" / "missing_cells.csv")
    assert len(holes) == 4


def test_cli_diverged_run_is_counted_and_missing_proposed_skipped(tiny_copy, edit_manifest, keep_eval_rows):
    keep_eval_rows(tiny_copy, MG, "cppo", 1, keep=1)
    edit_manifest(tiny_copy, MG, "cppo", 1, {"status": "diverged", "error": "NaN loss"})
    code, _ = _run_cli(_args(tiny_copy, proposed="nosuchalgo"))  # default OUT = RESULTS_DIR
    assert code == 0
    md = (tiny_copy / "report" / "index.md").read_text()
    assert "diverged runs: 1" in md and "2 imputed cells" in md
    assert "Skipped: proposed algorithm 'nosuchalgo' is not in the results" in md
    final = pd.read_csv(tiny_copy / "report" / "tables" / "per_task_final.csv").set_index(["algo", "task"])
    assert final.loc[("cppo", MG), "score_mean"] == pytest.approx((0.9 + 0.0 + 1.0) / 3)
    assert final.loc[("cppo", MG), "diverged_seeds"] == 1


def test_runs_without_torch_or_jax(tiny, tmp_path):
    # An import hook makes torch, jax and the simulators unimportable (as on a machine without them);
    # analysis must import and render the fixture report, and none of them may end up imported.
    # (Setting sys.modules[m] = None instead trips scipy's array-API probe, which reads sys.modules.)
    code = (
        "import sys, importlib.abc\n"
        "BLOCKED = ('torch', 'jax', 'jaxlib', 'mujoco', 'mujoco_playground', 'brax', 'isaaclab', 'isaacsim', 'omni')\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import analysis, analysis.report, analysis.cli, analysis.stats, analysis.figures\n"
        f"rc = analysis.cli.run([{str(tiny)!r}, '--out', {str(tmp_path)!r}, '--reps', '50'])\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)\n"
        "assert not leaked, leaked\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report" / "index.html").is_file()
