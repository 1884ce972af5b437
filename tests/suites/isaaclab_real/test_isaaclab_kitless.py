"""The VecEnv contract on the real IsaacLab 3.0 env: kitless (Newton / MuJoCo-Warp), on the CPU.

Runs in the IsaacLab venv (tox env ``isaaclab`` -> ``scripts/test_isaaclab.sh``); skipped elsewhere.
IsaacLab allows one simulation context per process, so this module shares one in-process
``isaaclab/Cartpole`` env (``ENV``) and builds further envs in child processes (``RemoteVecEnv``),
as the runner's evaluation does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# find_spec, not importorskip: importing isaaclab before the adapter would fix its asset root remotely
if importlib.util.find_spec("isaaclab_tasks") is None:
    pytest.skip("IsaacLab 3.0 is not installed here (bash scripts/setup_isaaclab.sh)", allow_module_level=True)

import torch  # noqa: E402

from harness.records import read_eval_rows  # noqa: E402
from harness.registry import _TASKS  # noqa: E402
import suites.isaaclab as il  # noqa: E402
from suites.isaaclab import kitless  # noqa: E402
from suites.isaaclab.adapter import IsaacLabVecEnv  # noqa: E402
from suites.isaaclab.remote import RemoteVecEnv  # noqa: E402

N = 8
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def env():
    e = _TASKS["isaaclab/Cartpole"].factory(N, 123, "cpu")
    assert isinstance(e, IsaacLabVecEnv) and kitless.env_open()
    yield e
    e.close()
    assert not kitless.env_open()


def test_shapes_dtypes_and_spec(env):
    s = env.spec
    assert (s.obs_dim, s.action_dim, s.num_envs, s.episode_length, s.device) == (4, 1, N, 300, "cpu")
    assert s.dt == pytest.approx(1 / 60)
    obs = env.reset()
    assert obs.shape == (N, 4) and obs.dtype == torch.float32 and torch.isfinite(obs).all()
    o, r, te, tr, info = env.step(torch.zeros(N, 1))
    assert o.shape == (N, 4) and o.dtype == torch.float32
    assert r.shape == (N,) and r.dtype == torch.float32 and torch.isfinite(r).all()
    assert te.shape == tr.shape == (N,) and te.dtype == tr.dtype == torch.bool
    assert r.data_ptr() != env._u.reward_buf.data_ptr() and te.data_ptr() != env._u.reset_terminated.data_ptr()


def test_action_scaling(env):
    env.reset()
    u = env._u
    env.step(torch.full((N, 1), 4.0))  # clamped to 1, times the task's own 100 N
    torch.testing.assert_close(u.actions, torch.full((N, 1), 100.0))
    env.action_scale = 0.5
    try:
        env.step(torch.tensor([[-3.0], [-1.0], [-0.5], [0.0], [0.2], [0.5], [1.0], [3.0]]))
        expected = torch.tensor([[-1.0], [-1.0], [-0.5], [0.0], [0.2], [0.5], [1.0], [1.0]]) * 0.5 * 100.0
        torch.testing.assert_close(u.actions, expected)
    finally:
        env.action_scale = 1.0


def test_same_seed_same_first_obs_and_a_fresh_env_matches_reseed(env):
    env.reseed(7)
    a = env.reset()
    env.reseed(7)
    b = env.reset()
    env.reseed(8)
    c = env.reset()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    # a fresh env built with seed 7 (in a child process: one simulation per process) starts the same
    remote = RemoteVecEnv("Isaac-Cartpole-Direct", N, 7, "cpu")
    try:
        torch.testing.assert_close(remote.reset(), a, rtol=0, atol=0)
        remote.reseed(8)
        torch.testing.assert_close(remote.reset(), c, rtol=0, atol=0)
    finally:
        remote.close()


def _rollout(env, seed: int, start: torch.Tensor, steps: int):
    """Reseed, reset, set the episode-step counters to ``start``, then push right with force 0.3."""
    env.reseed(seed)
    env.reset()
    env._u.episode_length_buf[:] = start
    out = []
    for _ in range(steps):
        out.append(env.step(torch.full((N, 1), 0.3)))
    return out


def test_time_out_vs_termination_and_final_obs_is_the_pre_reset_obs(env):
    max_len = env.spec.episode_length
    # rows 0-3 time out after 3 steps; rows 4-7 run on. A constant push takes some carts off the track.
    start = torch.tensor([max_len - 3] * 4 + [0] * 4)
    steps = 120
    run = _rollout(env, 11, start, steps)
    lengths = start.clone()
    seen = {"trunc": 0, "term": 0}
    for t, (obs, r, te, tr, info) in enumerate(run):
        lengths += 1
        assert not (te & tr).any()
        assert torch.equal(tr, (lengths >= max_len) & ~te), t  # IsaacLab 3.0 Cartpole: >= max_episode_length
        seen["trunc"] += int(tr.sum())
        seen["term"] += int(te.sum())
        ended = te | tr
        assert ("final_obs" in info) == bool(ended.any())
        if ended.any():
            assert not torch.equal(info["final_obs"][ended], obs[ended])
            if te.any():  # a terminal cart is off the track: |x| > max_cart_pos in the final obs
                assert (info["final_obs"][te, 0].abs() > 3.0).all()
        lengths[ended] = 0
    assert seen["trunc"] >= 4 and seen["term"] >= 1, seen
    # final_obs equals the observation the same episode reaches without the reset: replay with the
    # same seed and actions, the counters far from the limit (no time-out at step 3)
    replay = _rollout(env, 11, torch.zeros(N, dtype=torch.long), 3)
    obs3, _, te3, tr3, info3 = run[2]
    assert tr3[:4].all() and not tr3[4:].any()
    assert not (replay[2][2] | replay[2][3]).any()
    torch.testing.assert_close(info3["final_obs"][:4], replay[2][0][:4], rtol=0, atol=0)


def test_desync_spreads_the_first_episode(env):
    env.desync, env._reset_done = True, False
    try:
        env.reseed(5)
        env.reset()
        a = env._u.episode_length_buf.clone()
        env.reseed(5)
        env.reset()
        b = env._u.episode_length_buf.clone()
    finally:
        env.desync = False
    assert torch.equal(a, b) and a.max() < env.spec.episode_length and len(a.unique()) > 1
    env.reset()  # later resets start at step 0
    assert (env._u.episode_length_buf == 0).all()


def test_every_registered_task_runs_or_names_what_is_missing():
    runs, refuses = [], []
    for t in il.TASKS:
        spec = _TASKS[f"isaaclab/{t.name}"]
        assert spec.python() is None  # IsaacLab imports here: nothing delegated
        why = spec.available()
        (runs if why is None else refuses).append(t.name)
        if why is not None:
            assert ("asset files" in why and "DPBENCH_ISAACLAB_ASSETS" in why) or "Isaac Sim" in why, why
            with pytest.raises(kitless.IsaacLabUnavailable):
                kitless.resolve_cfg(t.gym_id, 2, 0, "cpu")
        assert t.cpu_assets == (why is None), (t.name, why)
    assert {"Cartpole", "Ant"} <= set(runs) and refuses


def test_ant_runs_on_the_cpu():
    ant = RemoteVecEnv("Isaac-Ant-Direct", 4, 0, "cpu")
    try:
        assert (ant.spec.action_dim, ant.spec.episode_length) == (8, 960)
        obs = ant.reset()
        assert obs.shape == (4, ant.spec.obs_dim) and torch.isfinite(obs).all()
        g = torch.Generator().manual_seed(0)
        for _ in range(5):
            obs, r, te, tr, _ = ant.step(torch.rand(4, 8, generator=g) * 2 - 1)
        assert torch.isfinite(obs).all() and torch.isfinite(r).all()
    finally:
        ant.close()


def test_dpbench_run_trains_and_writes_records(tmp_path):
    """`dpbench run` end to end on the real env: training env in the worker, evaluation env in its child."""
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "dpbench", "run", "--algo", "ppo", "--task", "isaaclab/Cartpole", "--seed", "0",
           "--env-steps", "1024", "--eval-every", "1024", "--num-envs", "16", "--eval-episodes", "2",
           "--device", "cpu", "--out", str(out), "--progress-every", "0", "--set", "num_steps=16"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, DPBENCH_THREADS="1"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = out / "isaaclab" / "Cartpole" / "ppo" / "seed_0"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["env_steps"] >= 1024
    assert manifest["versions"]["isaaclab"] == "3.0.0" and manifest["device"] == "cpu"
    rows = read_eval_rows(run_dir)
    assert [row["env_steps"] for row in rows] == [0, 1024]
    assert all(len(row["returns"]) == 2 and all(abs(x) < 1e3 for x in row["returns"]) for row in rows)
