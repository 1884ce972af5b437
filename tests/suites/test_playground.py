"""Contract tests of the MuJoCo Playground adapter (CartpoleBalance, 4 envs, 8-step episodes).

Skipped where mujoco_playground is not importable. The adapter's persistent JAX compilation cache
(``$DPBENCH_JAX_CACHE``, default ``~/.cache/dpbench/jax``) makes the second run of this file much
faster (no XLA compile, tracing only); all tests share one (task, num_envs, episode_length) so one
compiled program serves them all.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

pytest.importorskip("mujoco_playground")
pytestmark = pytest.mark.playground

from harness.env import VecEnv  # noqa: E402
from harness.registry import _TASKS  # noqa: E402  (the suite is imported directly, not via entry points)

import suites.playground as pg  # noqa: E402
from suites.playground import adapter  # noqa: E402

N = 4
T = 8
TASK = "CartpoleBalance"


def make(seed: int = 0) -> adapter.PlaygroundVecEnv:
    return adapter.PlaygroundVecEnv(TASK, N, seed, "cpu", episode_length=T)


def actions(steps: int, seed: int = 123) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(N, 1, generator=g) * 2 - 1 for _ in range(steps)]


def rollout(env, acts):
    obs = [env.reset()]
    rews = []
    for a in acts:
        o, r, te, tr, _ = env.step(a)
        obs.append(o.clone())
        rews.append(r.clone())
    return torch.stack(obs), torch.stack(rews)


@pytest.fixture(scope="module")
def env():
    e = make(0)
    e.compile()
    yield e
    e.close()


def test_registration_lists_all_dmc_tasks_without_importing_jax():
    dmc = {
        "AcrobotSwingup", "AcrobotSwingupSparse", "BallInCup", "CartpoleBalance",
        "CartpoleBalanceSparse", "CartpoleSwingup", "CartpoleSwingupSparse", "CheetahRun",
        "FingerSpin", "FingerTurnEasy", "FingerTurnHard", "FishSwim", "HopperHop", "HopperStand",
        "HumanoidStand", "HumanoidWalk", "HumanoidRun", "PendulumSwingup", "PointMass",
        "ReacherEasy", "ReacherHard", "SwimmerSwimmer6", "WalkerRun", "WalkerStand", "WalkerWalk",
    }
    assert set(pg.DMC_NAMES) == dmc
    for name in dmc:
        spec = _TASKS[f"playground/{name}"]
        assert spec.preset == "playground_dmc" and spec.episode_length == 1000
        assert spec.num_envs == 64 and spec.env_steps % spec.eval_every == 0
    assert len(pg.LOCOMOTION_NAMES) == 19 and len(pg.MANIPULATION_NAMES) == 10
    for name in pg.LOCOMOTION_NAMES:
        assert _TASKS[f"playground/{name}"].preset == "playground_locomotion"
    for name in pg.MANIPULATION_NAMES:
        assert _TASKS[f"playground/{name}"].preset == "playground_manipulation"
    code = "import sys, suites.playground; assert 'jax' not in sys.modules and 'mujoco_playground' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(adapter.missing_menagerie() is None, reason="mujoco_menagerie is installed here")
def test_menagerie_tasks_say_what_is_missing():
    msg = _TASKS["playground/Go1JoystickFlatTerrain"].available()
    assert msg is not None
    for part in ("mujoco_menagerie", "1b86ece576591213e2b666ebf59508454200ca97", "554 MB", "git clone"):
        assert part in msg
    assert _TASKS["playground/PandaPickCube"].available() is not None
    assert _TASKS["playground/CartpoleBalance"].available() is None
    # the factory refuses before Playground would try to git-clone menagerie
    with pytest.raises(RuntimeError, match="mujoco_menagerie"):
        adapter.PlaygroundVecEnv("Go1Getup", 2, 0, "cpu")


def test_cpu_default_impl_is_jax(env, monkeypatch):
    assert env.impl == "jax"
    monkeypatch.delenv(adapter.IMPL_ENV_VAR, raising=False)
    assert adapter.resolve_impl(None, "cpu") == "jax"
    monkeypatch.setenv(adapter.IMPL_ENV_VAR, "warp")
    with pytest.warns(UserWarning, match="slower"):
        assert adapter.resolve_impl(None, "cpu") == "warp"
    with pytest.raises(ValueError):
        adapter.resolve_impl("mjx", "cpu")


def test_spec_shapes_and_dtypes(env):
    assert isinstance(env, VecEnv)
    s = env.spec
    assert (s.obs_dim, s.action_dim, s.num_envs, s.episode_length) == (5, 1, N, T)
    assert s.dt == pytest.approx(0.01) and s.action_repeat == 1 and s.device == "cpu"
    obs = env.reset()
    assert obs.shape == (N, 5) and obs.dtype == torch.float32 and obs.device.type == "cpu"
    o, r, te, tr, info = env.step(torch.zeros(N, 1))
    assert o.shape == (N, 5) and o.dtype == torch.float32
    assert r.shape == (N,) and r.dtype == torch.float32
    assert te.shape == (N,) and te.dtype == torch.bool
    assert tr.shape == (N,) and tr.dtype == torch.bool
    assert info["final_obs"].shape == (N, 5) and info["final_obs"].dtype == torch.float32
    assert torch.isfinite(o).all() and torch.isfinite(r).all()


def test_actions_are_clipped_to_unit_box(env):
    env.reset()
    big = env.step(torch.full((N, 1), 7.0))[0].clone()
    env.reset()
    one = env.step(torch.ones(N, 1))[0].clone()
    torch.testing.assert_close(big, one, rtol=0, atol=0)
    env.reset()
    env.step(torch.full((N, 1), -3.0, dtype=torch.float64))  # other dtypes are accepted too
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(N + 1, 1))


def test_truncation_at_episode_length_with_final_obs(env):
    first = env.reset()
    acts = actions(2 * T + 1)
    for t, a in enumerate(acts, start=1):
        obs, r, te, tr, info = env.step(a)
        assert not te.any(), "DM Control ports never terminate"
        ended = t % T == 0
        assert bool(tr.all()) == ended and bool(tr.any()) == ended
        if ended:
            # obs is the fresh reset, final_obs the pre-reset observation
            assert not torch.allclose(info["final_obs"], obs)
            # fresh per-episode keys: the new episode does not restart from the first state
            assert not torch.allclose(obs, first)
        else:
            torch.testing.assert_close(info["final_obs"], obs, rtol=0, atol=0)


def test_same_seed_same_trajectory_different_seed_differs(env):
    acts = actions(T + 3)
    o1, r1 = rollout(env, acts)
    o_again, r_again = rollout(env, acts)  # reset() restarts from the seed
    other = make(0)  # a second instance with the same seed
    o2, r2 = rollout(other, acts)
    torch.testing.assert_close(o1, o2, rtol=0, atol=0)
    torch.testing.assert_close(r1, r2, rtol=0, atol=0)
    torch.testing.assert_close(o1, o_again, rtol=0, atol=0)
    o3, _ = rollout(make(1), acts)
    assert not torch.allclose(o1, o3)
    # envs within one batch differ too
    assert not torch.allclose(o1[:, 0], o1[:, 1])


def test_compile_does_not_change_state(env):
    acts = actions(5, seed=7)
    env.reset()
    env.step(acts[0])
    env.step(acts[1])
    ref = [env.step(a)[0].clone() for a in acts[2:]]
    env.reset()
    env.step(acts[0])
    env.step(acts[1])
    env.compile()
    got = [env.step(a)[0].clone() for a in acts[2:]]
    for a, b in zip(ref, got):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_registered_factory_builds_the_adapter():
    e = _TASKS["playground/CartpoleBalance"].factory(N, 3, "cpu", episode_length=T)
    assert isinstance(e, adapter.PlaygroundVecEnv) and e.spec.episode_length == T
    assert e.reset().shape == (N, 5)
    e.close()
