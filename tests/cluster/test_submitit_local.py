"""The Slurm submission code through submitit's ``local`` executor (no Slurm): the job array
callable, its checkpoint/requeue hook, and the driver's wait/summary/skip logic."""

from __future__ import annotations

import json

import pytest

from harness import records
from harness.executors.options import SlurmOptions
from harness.executors.slurm import SlurmRun, run_slurm, submissions
from harness.sweep import load_spec, plan

pytestmark = pytest.mark.cluster


def test_submitit_local_executor_runs_the_array(tmp_path, helpers, capsys):
    pytest.importorskip("submitit")
    spec_path = tmp_path / "s.toml"
    spec_path.write_text(helpers.spec_text("local", [0, 1], env_steps=4000, eval_every=2000))
    out = tmp_path / "out"
    runs = plan(load_spec(spec_path), str(out), device="cpu")
    counts = run_slurm(runs, SlurmOptions(time="10"), str(out), "local", cluster="local", poll=0.5)
    text = capsys.readouterr().out
    assert counts == {"complete": 2, "diverged": 0, "failed": 0, "skipped": 0}, text
    helpers.assert_complete(out, [0, 1], env_steps=4000, eval_every=2000)
    subs = submissions(out / ".slurm")
    assert sorted(subs) == ["toy/Target1D|ppo|0", "toy/Target1D|ppo|1"]
    assert all(e["cluster"] == "local" for e in subs.values())
    log = (records.run_dir(out, "toy/Target1D", "ppo", 0) / "stdout.log").read_text()
    assert "[slurm local] pid" in log and "complete" in log
    # second call: everything finished -> nothing submitted
    again = run_slurm(runs, SlurmOptions(time="10"), str(out), "local", cluster="local", poll=0.5)
    assert again["skipped"] == 2 and len(submissions(out / ".slurm")) == 2


def test_checkpoint_hook_requeues_the_same_run():
    submitit = pytest.importorskip("submitit")
    payload = {"algo": "ppo", "task": "toy/Target1D", "seed": 3, "out": "/x"}
    delayed = SlurmRun().checkpoint(payload, 2)
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    assert isinstance(delayed.function, SlurmRun) and delayed.args == (payload, 2)
    json.dumps(delayed.args[0])  # the payload stays plain JSON
