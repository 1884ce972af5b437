"""Contract tests of the IsaacLab adapter, run against the in-repo ``DirectRLEnv`` double.

The adapter code under test is the real one (``IsaacLabVecEnv``); only the simulator is replaced
through the ``env_maker`` hook. No Isaac Sim needed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from harness.env import VecEnv
from harness.registry import _TASKS  # the suite is imported directly, not via entry points

import suites.isaaclab as il
from suites.isaaclab import adapter
from suites.isaaclab.double import CartpoleDouble, make_double

N = 6
TASK = "Isaac-Cartpole-Direct-v0"


def make(seed: int = 0, **kw) -> adapter.IsaacLabVecEnv:
    return adapter.IsaacLabVecEnv(TASK, N, seed, "cpu", env_maker=make_double, **kw)


def test_registered_tasks():
    names = {
        "Isaac-Cartpole-Direct-v0", "Isaac-Ant-Direct-v0", "Isaac-Humanoid-Direct-v0",
        "Isaac-Lift-Cube-Franka-v0", "Isaac-Velocity-Rough-Anymal-D-v0", "Isaac-Velocity-Rough-Go2-v0",
        "Isaac-Velocity-Rough-H1-v0", "Isaac-Repose-Cube-Shadow-Direct-v0", "Isaac-Quadcopter-Direct-v0",
    }
    assert {t.name for t in il.ISAACLAB_TASKS} == names
    for name in names:
        spec = _TASKS[f"isaaclab/{name}"]
        assert spec.preset == "isaaclab" and spec.num_envs == 4096
        assert spec.env_steps % 4096 == 0 and spec.eval_every * 10 == spec.env_steps
    cart = _TASKS["isaaclab/Isaac-Cartpole-Direct-v0"]
    assert cart.episode_length == 300 and cart.env_steps == 150 * 16 * 4096
    code = "import sys, suites.isaaclab; assert 'isaaclab' not in sys.modules and 'isaacsim' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(adapter.missing_isaaclab() is None, reason="IsaacLab is runnable here")
def test_missing_isaaclab_says_what_is_needed():
    msg = _TASKS["isaaclab/Isaac-Ant-Direct-v0"].available()
    assert msg is not None
    for part in ("isaaclab 2.3", "Isaac Sim 5.1", "https://pypi.nvidia.com", "isaacsim[all,extscache]==5.1.0",
                 "RTX", "H100", "asset", "3.11", "numpy<2"):
        assert part in msg, part
    with pytest.raises(adapter.IsaacLabUnavailable) as e:
        _TASKS["isaaclab/Isaac-Cartpole-Direct-v0"].factory(4, 0, "cuda:0")
    assert "pypi.nvidia.com" in str(e.value)


def test_contract_shapes_dtypes_and_no_final_obs():
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
    assert "final_obs" not in info
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


def test_truncation_at_max_episode_length():
    # Zero force from a small tilt falls over; hold the pole upright with a PD controller instead
    # so that episodes reach the time limit.
    env = make(seed=1)
    sim: CartpoleDouble = env._env
    sim.max_episode_length = 40
    obs = env.reset()
    lengths = torch.zeros(N, dtype=torch.long)
    seen_trunc = False
    for t in range(1, 120):
        theta, theta_dot, x, x_dot = obs.unbind(-1)
        a = (20 * theta + 2 * theta_dot + 0.5 * x + 0.5 * x_dot).unsqueeze(-1) / 10
        obs, r, te, tr, info = env.step(a)
        lengths += 1
        assert not (te & tr).any(), "terminated and truncated are exclusive"
        # IsaacLab Direct tasks time out at episode_length_buf >= max_episode_length - 1
        assert torch.equal(tr, (lengths >= sim.max_episode_length - 1) & ~te)
        seen_trunc |= bool(tr.any())
        lengths[te | tr] = 0
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


def test_double_is_deterministic_under_a_seed():
    def run(seed):
        env = make(seed)
        g = torch.Generator().manual_seed(0)
        out = [env.reset()]
        for _ in range(150):
            o, r, te, tr, _ = env.step(torch.rand(N, 1, generator=g) * 2 - 1)
            out += [o, r.unsqueeze(-1), te.float().unsqueeze(-1), tr.float().unsqueeze(-1)]
        return torch.cat(out, dim=-1)

    a, b, c = run(5), run(5), run(6)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_registered_factory_accepts_an_env_maker():
    env = _TASKS["isaaclab/Isaac-Cartpole-Direct-v0"].factory(3, 0, "cpu", env_maker=make_double)
    assert isinstance(env, adapter.IsaacLabVecEnv) and env.spec.num_envs == 3
    assert env.reset().shape == (3, 4)
