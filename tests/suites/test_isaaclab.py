"""Contract tests of the IsaacLab adapter against the in-repo ``DirectRLEnv`` double (fast, no IsaacLab).

The adapter code under test is the real one (``IsaacLabVecEnv``); only the simulator is replaced
through the ``env_maker`` hook. The same contract on the real IsaacLab 3.0 env (kitless, CPU) is in
``tests/suites/isaaclab_real/`` (tox env ``isaaclab``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.env import VecEnv
from harness.registry import _TASKS  # the suite is imported directly, not via entry points

import suites.isaaclab as il
from suites.isaaclab import adapter, kitless, venv
from suites.isaaclab.double import CartpoleDouble, make_double

N = 6
TASK = "Isaac-Cartpole-Direct"
NAMES = {"Cartpole", "Ant", "Humanoid", "AnymalD", "H1", "Go2", "FrankaLift", "ShadowHand"}


def make(seed: int = 0, **kw) -> adapter.IsaacLabVecEnv:
    return adapter.IsaacLabVecEnv(TASK, N, seed, "cpu", env_maker=make_double, **kw)


def test_registered_tasks():
    assert {t.name for t in il.TASKS} == NAMES
    for t in il.TASKS:
        spec = _TASKS[f"isaaclab/{t.name}"]
        assert spec.preset == "isaaclab" and spec.num_envs == 4096
        assert spec.env_steps % 4096 == 0 and spec.eval_every * 10 == spec.env_steps
        assert not t.gym_id.endswith("-v0")
    cart = _TASKS["isaaclab/Cartpole"]
    assert cart.episode_length == 300 and cart.env_steps == 150 * 16 * 4096
    code = "import sys, suites.isaaclab; assert 'isaaclab' not in sys.modules and 'warp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_the_isaaclab_venv_every_task_names_the_setup_command(tmp_path, monkeypatch):
    if venv.isaaclab_here():
        pytest.skip("IsaacLab imports here: tasks are checked for real in tests/suites/isaaclab_real")
    monkeypatch.setenv("DPBENCH_ISAACLAB_VENV", str(tmp_path / "nowhere"))
    for t in il.TASKS:
        spec = _TASKS[f"isaaclab/{t.name}"]
        assert spec.python() is None
        msg = spec.available()
        assert msg is not None and "bash scripts/setup_isaaclab.sh" in msg and "3.12" in msg, msg
    with pytest.raises(kitless.IsaacLabUnavailable, match="setup_isaaclab.sh"):
        _TASKS["isaaclab/Cartpole"].factory(4, 0, "cpu")


def test_with_the_isaaclab_venv_runs_are_delegated_to_it(tmp_path, monkeypatch):
    if venv.isaaclab_here():
        pytest.skip("IsaacLab imports here: nothing to delegate")
    fake = tmp_path / "venv"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").write_text("#!/bin/sh\n")
    monkeypatch.setenv("DPBENCH_ISAACLAB_VENV", str(fake))
    spec = _TASKS["isaaclab/Cartpole"]
    assert spec.python() == str(fake / "bin" / "python")
    assert spec.available() is None  # the delegated run checks the rest


def test_cli_run_delegates_the_same_command_to_the_isaaclab_venv(tmp_path):
    """`dpbench run --task isaaclab/...` from another venv re-executes itself with the venv's Python
    (a stand-in script that records its argv) and returns its exit status."""
    if venv.isaaclab_here():
        pytest.skip("IsaacLab imports here: nothing to delegate")
    fake = tmp_path / "venv"
    (fake / "bin").mkdir(parents=True)
    log = tmp_path / "argv.txt"
    py = fake / "bin" / "python"
    py.write_text(f'#!/bin/sh\necho "$@" > {log}\nexit 7\n')
    py.chmod(0o755)
    env = dict(os.environ, DPBENCH_ISAACLAB_VENV=str(fake))
    argv = ["run", "--algo", "ppo", "--task", "isaaclab/Cartpole", "--seed", "1", "--env-steps", "1000",
            "--out", str(tmp_path / "runs"), "--device", "cpu"]
    r = subprocess.run([sys.executable, "-m", "dpbench", *argv], env=env, capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 7, r.stderr
    assert log.read_text().split() == ["-m", "dpbench", *argv]
    assert not (tmp_path / "runs").exists()  # nothing ran or was written here


def test_cli_without_the_venv_fails_with_the_setup_command(tmp_path):
    if venv.isaaclab_here():
        pytest.skip("IsaacLab imports here")
    env = dict(os.environ, DPBENCH_ISAACLAB_VENV=str(tmp_path / "nowhere"))
    r = subprocess.run([sys.executable, "-m", "dpbench", "run", "--algo", "ppo", "--task", "isaaclab/Ant",
                        "--out", str(tmp_path / "runs"), "--device", "cpu"], env=env, capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and "bash scripts/setup_isaaclab.sh" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_contract_shapes_dtypes_and_final_obs():
    env = make()
    assert isinstance(env, VecEnv)
    s = env.spec
    assert (s.obs_dim, s.action_dim, s.num_envs, s.episode_length) == (4, 1, N, 300)
    assert s.dt == pytest.approx(1 / 60) and s.device == "cpu" and s.action_repeat == 1
    obs = env.reset()
    assert obs.shape == (N, 4) and obs.dtype == torch.float32
    o, r, te, tr, info = env.step(torch.zeros(N, 1))
    assert o.shape == (N, 4) and o.dtype == torch.float32
    assert r.shape == (N,) and r.dtype == torch.float32
    assert te.dtype == torch.bool and tr.dtype == torch.bool and te.shape == tr.shape == (N,)
    assert "final_obs" not in info  # nobody ended on the first step
    env.close()
    assert env._env.closed


def test_outputs_are_copies_of_the_simulator_buffers():
    env = make()
    env.reset()
    _, r, te, tr, _ = env.step(torch.zeros(N, 1))
    sim = env._env
    assert r.data_ptr() != sim.reward_buf.data_ptr()
    assert te.data_ptr() != sim.reset_terminated.data_ptr()
    assert tr.data_ptr() != sim.reset_time_outs.data_ptr()


def _pd(obs: torch.Tensor) -> torch.Tensor:
    theta, theta_dot, x, x_dot = obs.unbind(-1)
    return (20 * theta + 2 * theta_dot + 0.5 * x + 0.5 * x_dot).unsqueeze(-1) / 10


def test_truncation_at_max_episode_length_and_final_obs_is_the_pre_reset_obs():
    # hold the pole upright with a PD controller so that episodes reach the time limit
    env = make(seed=1)
    sim: CartpoleDouble = env._env
    sim.max_episode_length = 40
    obs = env.reset()
    lengths = torch.zeros(N, dtype=torch.long)
    seen_trunc = False
    for _ in range(120):
        a = _pd(obs)
        # what the env would observe after this step, were it not reset: simulate on a copy
        state = sim._state.clone()
        sim._physics_step(a[:, 0].clamp(-1, 1) * sim.cfg.action_scale)
        sim._physics_step(a[:, 0].clamp(-1, 1) * sim.cfg.action_scale)
        expected_final = sim._get_observations()["policy"].clone()
        sim._state = state
        obs, r, te, tr, info = env.step(a)
        lengths += 1
        assert not (te & tr).any(), "terminated and truncated are exclusive"
        assert torch.equal(tr, (lengths >= sim.max_episode_length) & ~te)  # IsaacLab 3.0: >= max_episode_length
        ended = te | tr
        if ended.any():
            torch.testing.assert_close(info["final_obs"][ended], expected_final[ended], rtol=0, atol=0)
            assert not torch.equal(info["final_obs"][ended], obs[ended])  # obs is the reset one
        else:
            assert "final_obs" not in info
        seen_trunc |= bool(tr.any())
        lengths[ended] = 0
    assert seen_trunc


def test_termination_is_reported_and_envs_auto_reset():
    env = make(seed=2)
    obs = env.reset()
    terminated = torch.zeros(N, dtype=torch.bool)
    for _ in range(200):
        obs, r, te, tr, _ = env.step(torch.ones(N, 1))  # full force one way: the cart leaves the track
        terminated |= te
    assert terminated.all()
    assert (obs[:, 2].abs() <= 3.0).all()  # all envs were reset back onto the track


def test_no_final_obs_where_the_env_does_not_compute_it():
    env = adapter.IsaacLabVecEnv(TASK, N, 2, "cpu", env_maker=lambda *a, **k: make_double(*a, compute_final_obs=False, **k))
    env.reset()
    seen_end = False
    for _ in range(200):
        _, _, te, tr, info = env.step(torch.ones(N, 1))
        seen_end |= bool((te | tr).any())
        assert "final_obs" not in info
    assert seen_end


def test_action_scaling_and_clipping():
    env = make(action_scale=0.5)
    env.reset()
    env.step(torch.full((N, 1), 4.0))
    # [-1, 1] clamp, times 0.5; the double then applies its own task scale (100 N)
    torch.testing.assert_close(env._env.last_action, torch.full((N, 1), 50.0))
    env = make(action_scale=2.0, clip_actions=1.5)
    env.reset()
    env.step(torch.tensor([[-1.0], [-0.5], [0.0], [0.25], [0.9], [3.0]]))
    expected = torch.tensor([[-1.5], [-1.0], [0.0], [0.5], [1.5], [1.5]]) * 100.0
    torch.testing.assert_close(env._env.last_action, expected)
    assert make().action_scale == 1.0  # default


def test_desync_spreads_the_first_episode_and_is_seeded():
    n = 64
    def starts(seed, desync):
        env = adapter.IsaacLabVecEnv(TASK, n, seed, "cpu", env_maker=make_double, desync=desync)
        env.reset()
        return env._env.episode_length_buf.clone()

    assert torch.equal(starts(3, False), torch.zeros(n, dtype=torch.long))
    a, b, c = starts(3, True), starts(3, True), starts(4, True)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() < 300 and len(a.unique()) > n // 2
    # the time-outs of the first episodes are spread: env i times out after 300 - a[i] steps
    env = adapter.IsaacLabVecEnv(TASK, n, 3, "cpu", env_maker=make_double, desync=True)
    env._env.max_episode_length = 300
    env.reset()
    env._env.episode_length_buf[:] = 295  # all near the limit: time-outs come at once...
    env.reset()  # ...but desync applies to the first reset only
    assert (env._env.episode_length_buf == 0).all()


def test_double_is_deterministic_under_a_seed_and_reseed_restarts_it():
    def run(env):
        g = torch.Generator().manual_seed(0)
        out = [env.reset()]
        for _ in range(150):
            o, r, te, tr, _ = env.step(torch.rand(N, 1, generator=g) * 2 - 1)
            out += [o, r.unsqueeze(-1), te.float().unsqueeze(-1), tr.float().unsqueeze(-1)]
        return torch.cat(out, dim=-1)

    a, b, c = run(make(5)), run(make(5)), run(make(6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    env = make(6)
    run(env)
    env.reseed(5)
    torch.testing.assert_close(run(env), a, rtol=0, atol=0)


def test_registered_factory_accepts_an_env_maker():
    env = _TASKS["isaaclab/Cartpole"].factory(3, 0, "cpu", env_maker=make_double)
    assert isinstance(env, adapter.IsaacLabVecEnv) and env.spec.num_envs == 3
    assert env.reset().shape == (3, 4)


def test_env_seed_fits_numpy():
    assert adapter.env_seed(2**62 + 5) < 2**32 and adapter.env_seed(7) == 7


def test_missing_assets_names_files_and_urls(tmp_path):
    from dataclasses import dataclass, field

    @dataclass
    class Spawn:
        usd_path: str

    @dataclass
    class Cfg:
        robot: Spawn
        others: list = field(default_factory=list)

    (tmp_path / "Isaac").mkdir()
    (tmp_path / "Isaac" / "here.usd").write_text("#usda 1.0\n")
    cfg = Cfg(Spawn(str(tmp_path / "Isaac" / "here.usd")),
              [Spawn(str(tmp_path / "Isaac" / "gone.usd")), {"t": "https://example.org/sky.hdr"}, "not an asset"])
    assert kitless.missing_assets(cfg, str(tmp_path)) == [str(Path("Isaac") / "gone.usd"), "https://example.org/sky.hdr"]


def test_shipped_assets_and_licence_are_there():
    from suites.isaaclab import assets

    root = assets.SHIPPED
    for rel in ("Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd", "Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd",
                "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda",
                "LICENSE-newton-Apache-2.0.txt", "README.md"):
        assert (root / rel).is_file(), rel
    cart = (root / "Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd").read_text()
    assert 'defaultPrim = "cartpole"' in cart and 'def Xform "cartpole"' in cart


def test_sweep_starts_isaaclab_workers_in_the_isaaclab_venv(tmp_path, monkeypatch, capsys):
    """A sweep's local executor starts an isaaclab/* run's worker with the venv's Python (a stand-in
    that records its argv) and a toy run's with this one, so one sweep mixes suites."""
    if venv.isaaclab_here():
        pytest.skip("IsaacLab imports here: nothing to delegate")
    from harness.runner import RunSpec
    from harness.sweep import run_local

    fake = tmp_path / "venv"
    (fake / "bin").mkdir(parents=True)
    log = tmp_path / "argv.txt"
    py = fake / "bin" / "python"
    py.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit 1\n')
    py.chmod(0o755)
    monkeypatch.setenv("DPBENCH_ISAACLAB_VENV", str(fake))
    out = str(tmp_path / "runs")
    runs = [RunSpec(algo="ppo", task="isaaclab/Cartpole", seed=0, out=out, env_steps=512, num_envs=4, device="cpu"),
            RunSpec(algo="ppo", task="toy/Target1D", seed=0, out=out, env_steps=256, eval_every=256, device="cpu")]
    counts = run_local(runs, workers=1, progress_every=1e9)
    argv = log.read_text().split()
    assert argv[:2] == ["-m", "harness.worker"] and '"isaaclab/Cartpole",' in argv
    assert "toy/Target1D" not in log.read_text()
    assert counts["complete"] == 1 and counts["failed"] == 1  # the toy run ran here; the stand-in wrote nothing


def test_setup_script_without_python312_exits_2_saying_how_to_get_it(tmp_path):
    if any(Path(d, "python3.12").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("this machine has a system python3.12")
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run(["bash", str(root / "scripts" / "setup_isaaclab.sh")], capture_output=True, text=True,
                       env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "DPBENCH_ISAACLAB_VENV": str(tmp_path / "v")})
    assert r.returncode == 2 and "Python 3.12 not found" in r.stderr and "pyenv install 3.12" in r.stderr
    assert not (tmp_path / "v").exists()
