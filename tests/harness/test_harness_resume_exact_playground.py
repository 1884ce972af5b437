"""Resume that changes nothing on MuJoCo Playground (CartpoleBalance): the training env's state pytree
(MJX states, step counters, PRNG keys) goes into the checkpoint and comes back, so a run interrupted
at random points writes the same records (clock columns aside) as an uninterrupted one, for every
registered algorithm. Tiny budget and 40-step episodes; PPO runs by default, the others are ``slow``
(about 10-20 s each on a loaded 2-core CPU)."""

from __future__ import annotations

import dataclasses
import functools
import random

import pytest

pytest.importorskip("mujoco_playground")
pytestmark = pytest.mark.playground

from harness import records  # noqa: E402
from harness.registry import get_algorithm, list_algorithms  # noqa: E402
from harness.runner import Prepared, RunSpec  # noqa: E402

TASK, EPISODE, ENV_STEPS, EVAL_EVERY, NUM_ENVS = "playground/CartpoleBalance", 40, 1_200, 300, 4
SMALL_PPO = {"num_steps": 16, "actor_hidden": (32, 32), "critic_hidden": (32, 32), "epochs": 2, "minibatches": 2}
ALGOS = [a.name for a in list_algorithms() if not a.name.startswith("test_")]


def _short_episodes(prep: Prepared) -> Prepared:
    """The registered task with 40-step episodes (evaluation stays cheap); same adapter, same code path."""
    task = dataclasses.replace(prep.task, factory=functools.partial(prep.task.factory, episode_length=EPISODE),
                               episode_length=EPISODE)
    return dataclasses.replace(prep, task=task)


def _spec(algo: str, out) -> RunSpec:
    overrides = dict(get_algorithm(algo).tuned.get("smoke", SMALL_PPO if algo == "ppo" else {}))
    return RunSpec(algo=algo, task=TASK, seed=0, out=str(out), env_steps=ENV_STEPS, eval_every=EVAL_EVERY,
                   eval_episodes=2, num_envs=NUM_ENVS, progress_every=0, device="cpu", overrides=overrides)


@pytest.mark.parametrize("algo", [a if a == "ppo" else pytest.param(a, marks=pytest.mark.slow) for a in ALGOS])
def test_playground_interrupted_anywhere_resumes_bitwise(algo, tmp_path, resume):
    rng = random.Random(f"playground:{algo}")
    a = resume.run_uninterrupted(_spec(algo, tmp_path / "a"), adapt=_short_episodes)
    rows = records.read_eval_rows(a)
    assert [r["env_steps"] for r in rows] == list(range(0, ENV_STEPS + 1, EVAL_EVERY))
    b, kills = resume.run_interrupted(_spec(algo, tmp_path / "b"), rng, kills=3, per_act=NUM_ENVS,
                                      adapt=_short_episodes)
    m = records.read_manifest(b)
    assert m["resumes"] >= 1 and m.get("resume") == "exact", (kills, m.get("resume"))
    resume.assert_same_records(a, b, f"{algo} on {TASK}, interrupted at {kills}")
