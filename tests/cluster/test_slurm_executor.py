"""``--executor slurm`` (submitit) on a real single-node Slurm started on this machine: a sweep that
waits, then a detached (``--no-wait``) submission during which one array task is preempted
(``scancel --signal=USR2``, Slurm's preemption/time-limit warning): submitit checkpoints and requeues
it, the task resumes from the run's checkpoint. Re-running the command does not resubmit queued or
running tasks; ``dpbench sweep status`` follows the sweep to the end."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from harness import records

pytestmark = pytest.mark.cluster


def _status(spec, out, env) -> str:
    r = subprocess.run([sys.executable, "-m", "dpbench", "sweep", "status", str(spec), "--out", str(out)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _skip_requeue_hold(job: str, env) -> None:
    """Slurm holds a requeued job for ~2 minutes (EligibleTime = requeue + 121 s, not configurable);
    a real cluster just waits. Here the test releases the hold as soon as it sees it, as an admin would."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T %r"], capture_output=True, text=True, env=env).stdout
        if "PENDING" in q and "BeginTime" in q:
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True, env=env, timeout=60)
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job} was not requeued within 120s")


def test_slurm_sweep_preempt_requeue_and_status(slurm, tmp_path, helpers):
    h, env = helpers, slurm.env
    spec = tmp_path / "slurm.toml"
    out = tmp_path / "out"
    spec.write_text(h.spec_text("slurmtest", [0, 1]))
    t0 = time.monotonic()
    first = subprocess.run(h.sweep_cmd(spec, out, "--executor", "slurm", "--time", "20", "--cpus-per-run", "1"),
                           capture_output=True, text=True, timeout=600, env=env)
    print(f"[cluster] slurm: 2-run sweep in {time.monotonic() - t0:.1f}s")
    assert first.returncode == 0, first.stdout + first.stderr + slurm.logs()
    assert "submitted job array" in first.stdout and "2 complete, 0 diverged, 0 failed, 0 skipped" in first.stdout
    h.assert_complete(out, [0, 1])
    before = h.finished_bytes(out, [0, 1])

    bad = subprocess.run(h.sweep_cmd(spec, tmp_path / "bad", "--executor", "slurm", "--partition", "nope"),
                         capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode == 2 and "sbatch refused the job array" in bad.stderr, bad.stdout + bad.stderr
    assert "invalid partition" in bad.stderr.lower(), bad.stderr

    spec.write_text(h.spec_text("slurmtest", [0, 1, 2, 3]))
    t0 = time.monotonic()
    cmd = h.sweep_cmd(spec, out, "--executor", "slurm", "--time", "20", "--no-wait", "--slurm-array-parallelism", "2")
    sub = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    assert "2 already finished (skipped), 0 still queued/running from an earlier submission, 2 to submit" in sub.stdout
    jobs = {json.loads(line)["run"]: json.loads(line)["job_id"]
            for line in (out / ".slurm" / "submissions.jsonl").read_text().splitlines()}
    victim = jobs["toy/Target1D|ppo|3"]
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])  # wait_mid_run needs a process
    try:
        h.wait_mid_run(out, 3, driver)
    finally:
        driver.kill()
    rows_at_signal = len(records.read_eval_rows(records.run_dir(out, "toy/Target1D", "ppo", 3)))
    subprocess.run(["scancel", "--signal=USR2", victim], check=True, env=env, timeout=60)
    _skip_requeue_hold(victim, env)

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 to submit" in again.stdout, again.stdout  # nothing resubmitted while queued/running

    deadline = time.monotonic() + 600
    text = ""
    while time.monotonic() < deadline:
        text = _status(spec, out, env)
        if "4 runs: 4 complete" in text:
            break
        time.sleep(2)
    print(f"[cluster] slurm: 2 more runs, one preempted (USR2 at {rows_at_signal} eval rows) and requeued, "
          f"in {time.monotonic() - t0:.1f}s")
    assert "4 runs: 4 complete" in text, text + slurm.logs()
    h.assert_complete(out, [0, 1, 2, 3])
    assert h.finished_bytes(out, [0, 1]) == before, "finished runs were touched"
    m3 = records.read_manifest(records.run_dir(out, "toy/Target1D", "ppo", 3))
    assert m3["resumes"] >= 1, json.dumps(m3, indent=1)[:2000]
    assert records.read_manifest(records.run_dir(out, "toy/Target1D", "ppo", 2))["resumes"] == 0
    logs = "".join(p.read_text(errors="replace") for p in (out / ".slurm").rglob(f"{victim}_*_log.*"))
    assert "preempted" in logs and "Requeued job" in logs, logs[-3000:]
