"""A sweep killed with SIGKILL mid-run and started again completes; one row per eval point;
finished runs are not re-trained."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import records

SPEC = """
name = "killtest"
seeds = [0, 1]
algorithms = ["ppo"]
[tasks."toy/Target1D"]
env_steps = 12000
eval_every = 2000
eval_episodes = 4
num_envs = 8
"""


def _sweep(spec: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dpbench", "sweep", str(spec), "--out", str(out), "--workers", "1", "--no-figures"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def test_sigkill_mid_sweep_then_resume(tmp_path):
    spec = tmp_path / "kill.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    run0 = records.run_dir(out, "toy/Target1D", "ppo", 0)
    run1 = records.run_dir(out, "toy/Target1D", "ppo", 1)
    proc = _sweep(spec, out)
    deadline = time.monotonic() + 600  # generous: the run is slow on a loaded 2-core machine
    # wait until seed 0 is complete and seed 1 has checkpointed at least once mid-run
    while time.monotonic() < deadline:
        try:
            done0 = records.read_manifest(run0)["status"] == "complete"
            mid1 = (run1 / "checkpoint.pt").exists() and 2 <= len(records.read_eval_rows(run1)) < 7
        except records.RecordError:
            done0 = mid1 = False
        if done0 and mid1:
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    else:
        raise AssertionError("sweep did not reach the kill point in time")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert records.read_manifest(run1)["status"] == "running"
    finished_before = (run0 / "evals.csv").read_bytes(), records.read_manifest(run0)["finished_at"]

    again = subprocess.run(
        [sys.executable, "-m", "dpbench", "sweep", str(spec), "--out", str(out), "--no-figures"],
        capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 already finished (skipped)" in again.stdout
    for d in (run0, run1):
        m = records.read_manifest(d)
        assert m["status"] == "complete"
        assert [r["env_steps"] for r in records.read_eval_rows(d)] == [0, 2000, 4000, 6000, 8000, 10000, 12000]
    assert records.read_manifest(run1)["resumes"] == 1
    assert ((run0 / "evals.csv").read_bytes(), records.read_manifest(run0)["finished_at"]) == finished_before
