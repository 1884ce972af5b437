"""``--executor ray`` on a real Ray head node started on this machine: a small sweep, then a sweep
during which the Ray worker process running one dpbench run is SIGKILLed (Ray retries the task,
which resumes from the run's checkpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from harness import records

pytestmark = pytest.mark.cluster


def test_ray_sweep_then_worker_sigkill(ray_head, tmp_path, helpers):
    h = helpers
    spec = tmp_path / "ray.toml"
    out = tmp_path / "out"  # absolute: tmp_path is
    spec.write_text(h.spec_text("raytest", [0, 1]))
    t0 = time.monotonic()
    first = subprocess.run(h.sweep_cmd(spec, out, "--executor", "ray", "--address", ray_head.address),
                           capture_output=True, text=True, timeout=600)
    print(f"[cluster] ray: 2-run sweep in {time.monotonic() - t0:.1f}s")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 complete, 0 diverged, 0 failed, 0 skipped" in first.stdout, first.stdout
    h.assert_complete(out, [0, 1])
    before = h.finished_bytes(out, [0, 1])
    assert "[ray] pid" in (records.run_dir(out, "toy/Target1D", "ppo", 0) / "stdout.log").read_text()

    # Same records root, two more seeds; kill the Ray worker running seed 3 mid-run.
    spec.write_text(h.spec_text("raytest", [0, 1, 2, 3]))
    t0 = time.monotonic()
    proc = subprocess.Popen(h.sweep_cmd(spec, out, "--executor", "ray", "--address", ray_head.address,
                                      "--max-retries", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        h.wait_mid_run(out, 3, proc)
        victim = None
        for _ in range(100):
            for pid in ray_head.worker_pids():
                log = records.run_dir(out, "toy/Target1D", "ppo", 3) / "stdout.log"
                if f"[ray] pid {pid} " in log.read_text():
                    victim = pid
            if victim:
                break
            time.sleep(0.1)
        assert victim, f"no ray::dpbench_run worker found for seed 3 among {ray_head.worker_pids()}"
        rows_at_kill = len(records.read_eval_rows(records.run_dir(out, "toy/Target1D", "ppo", 3)))
        os.kill(victim, signal.SIGKILL)
        text, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"[cluster] ray: 4-run sweep with a worker SIGKILL (at {rows_at_kill} eval rows) in "
          f"{time.monotonic() - t0:.1f}s")
    assert proc.returncode == 0, text
    assert "2 already finished (skipped)" in text, text
    assert "2 complete, 0 diverged, 0 failed, 2 skipped" in text, text
    h.assert_complete(out, [0, 1, 2, 3])
    assert h.finished_bytes(out, [0, 1]) == before, "finished runs were touched"
    m3 = records.read_manifest(records.run_dir(out, "toy/Target1D", "ppo", 3))
    assert m3["resumes"] >= 1, json.dumps(m3, indent=1)[:2000]
    assert records.read_manifest(records.run_dir(out, "toy/Target1D", "ppo", 2))["resumes"] == 0
