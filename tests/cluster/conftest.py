"""Real clusters for the executor tests (tox env ``cluster``): a Ray head node and a single-node
Slurm (munged + slurmctld + slurmd), each started once per module and stopped after it, leaving
no process behind. Where a cluster cannot start here the tests are skipped with the reason."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import records
from harness.executors.localcluster import ClusterUnavailable, RayHead, SlurmCluster

pytestmark = pytest.mark.cluster


def _skip(what: str, why: str) -> None:
    print(f"\n[cluster] {what} cannot start here, skipping: {why}", file=sys.stderr, flush=True)
    pytest.skip(f"{what} cannot start here: {why}")


@pytest.fixture(scope="module")
def ray_head():
    pytest.importorskip("ray", reason="ray not installed (pip install -e '.[cluster]')")
    t0 = time.monotonic()
    try:
        head = RayHead(num_cpus=2).__enter__()
    except ClusterUnavailable as e:
        _skip("Ray head", str(e))
    print(f"\n[cluster] Ray head at {head.address} up in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    yield head
    head.__exit__()
    left = [p for p in head.pids_at_stop if _alive(p)]
    assert not left, f"Ray processes left behind: {left}"


@pytest.fixture(scope="module")
def slurm():
    pytest.importorskip("submitit", reason="submitit not installed (pip install -e '.[cluster]')")
    t0 = time.monotonic()
    try:
        cluster = SlurmCluster(cpus=2).__enter__()
    except ClusterUnavailable as e:
        _skip("single-node Slurm", str(e))
    print(f"\n[cluster] Slurm (conf {cluster.root}/slurm.conf) up in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    yield cluster
    pids = [p.pid for p in cluster.procs]
    cluster.__exit__()
    left = [p for p in pids if _alive(p)] + cluster._stepd_pids()
    assert not left, f"Slurm processes left behind: {left}"


def _alive(pid: int) -> bool:
    from harness.executors.localcluster import _alive as alive

    return alive(pid)


def spec_text(name: str, seeds: list[int], env_steps: int = 12000, eval_every: int = 2000) -> str:
    return f"""
name = "{name}"
seeds = {seeds}
algorithms = ["ppo"]
[tasks."toy/Target1D"]
env_steps = {env_steps}
eval_every = {eval_every}
eval_episodes = 4
num_envs = 8
"""


def sweep_cmd(spec: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dpbench", "sweep", str(spec), "--out", str(out), "--no-figures", *extra]


def grid(env_steps: int = 12000, eval_every: int = 2000) -> list[int]:
    return list(range(0, env_steps + 1, eval_every))


def assert_complete(out: Path, seeds: list[int], env_steps: int = 12000, eval_every: int = 2000) -> None:
    for s in seeds:
        d = records.run_dir(out, "toy/Target1D", "ppo", s)
        assert records.read_manifest(d)["status"] == "complete", d
        rows = records.read_eval_rows(d)
        assert [r["env_steps"] for r in rows] == grid(env_steps, eval_every), (d, [r["env_steps"] for r in rows])
        assert [r["eval_index"] for r in rows] == list(range(len(rows)))


def finished_bytes(out: Path, seeds: list[int]) -> dict[int, tuple[bytes, bytes]]:
    out_ = {}
    for s in seeds:
        d = records.run_dir(out, "toy/Target1D", "ppo", s)
        out_[s] = ((d / "evals.csv").read_bytes(), (d / "manifest.json").read_bytes())
    return out_


def wait_mid_run(out: Path, seed: int, proc: subprocess.Popen, timeout: float = 400.0, lo: int = 2, hi: int = 6) -> None:
    """Wait until run ``seed`` has checkpointed between ``lo`` and ``hi`` evaluation rows."""
    d = records.run_dir(out, "toy/Target1D", "ppo", seed)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = len(records.read_eval_rows(d))
            if lo <= n <= hi and (d / "checkpoint.pt").exists():
                return
            if n > hi:
                raise AssertionError(f"run seed {seed} went past the kill window ({n} rows) before it was seen")
        except records.RecordError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended before the kill point:\n{proc.stdout.read()}")
        time.sleep(0.1)
    raise AssertionError(f"run seed {seed} did not reach {lo} eval rows in {timeout:.0f}s")


@pytest.fixture
def helpers():
    """The helpers above (tests are imported in importlib mode, so they cannot import conftest)."""
    import types

    return types.SimpleNamespace(spec_text=spec_text, sweep_cmd=sweep_cmd, grid=grid, assert_complete=assert_complete,
                                 finished_bytes=finished_bytes, wait_mid_run=wait_mid_run)
