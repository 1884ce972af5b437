"""Resume that changes nothing (issue 17 item 5): a run interrupted anywhere and resumed from its
checkpoint writes the same ``evals.csv`` (clock columns aside), train log and probe rows as an
uninterrupted run, for every registered algorithm on the toy tasks.

In-process: interruptions at random ``act``/``update`` calls (random per algorithm, seeded, printed
on failure). Out of process: the sweep worker (``python -m harness.worker``) SIGKILLed at random times, then run again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from harness import records
from harness.registry import get_algorithm, list_algorithms
from harness.runner import RunSpec

ALGOS = [a.name for a in list_algorithms() if not a.name.startswith("test_")]
TOY_TASKS = ("toy/MultiGoal", "toy/MultiGoalSQL", "toy/Target1D")

ENV_STEPS, EVAL_EVERY, NUM_ENVS = 1_200, 300, 4


def _spec(algo: str, task: str, out, seed: int = 0) -> RunSpec:
    return RunSpec(algo=algo, task=task, seed=seed, out=str(out), env_steps=ENV_STEPS, eval_every=EVAL_EVERY,
                   eval_episodes=3, num_envs=NUM_ENVS, progress_every=0,
                   overrides=dict(get_algorithm(algo).tuned.get("smoke", {})))


@pytest.mark.parametrize("algo", ALGOS)
def test_interrupted_anywhere_resumes_bitwise_on_toy(algo, tmp_path, resume):
    task = TOY_TASKS[ALGOS.index(algo) % len(TOY_TASKS)]  # every toy task gets several algorithms
    rng = random.Random(f"{algo}:{task}")
    a = resume.run_uninterrupted(_spec(algo, task, tmp_path / "a"))
    rows = records.read_eval_rows(a)
    assert [r["env_steps"] for r in rows] == list(range(0, ENV_STEPS + 1, EVAL_EVERY))
    assert get_algorithm(algo).reference or rows[-1]["updates"] > 0
    b, kills = resume.run_interrupted(_spec(algo, task, tmp_path / "b"), rng, kills=3,
                                      per_act=NUM_ENVS)
    m = records.read_manifest(b)
    assert m["resumes"] >= 1 and m.get("resume") == "exact", (kills, m.get("resume"))
    resume.assert_same_records(a, b, f"{algo} on {task}, interrupted at {kills}")


@pytest.mark.parametrize("algo,task", [("ppo", "toy/MultiGoal"), ("dacer", "toy/MultiGoalSQL")])
def test_sigkilled_at_random_times_resumes_bitwise(algo, task, tmp_path, resume):
    """Real kills: the sweep worker process of a run SIGKILLed at random moments after its first checkpoint, run again
    until complete; its records equal those of an uninterrupted in-process run of the same spec."""
    env_steps = 3_000
    out = tmp_path / "killed"
    spec = RunSpec(algo=algo, task=task, seed=1, out=str(out), env_steps=env_steps, eval_every=EVAL_EVERY,
                   eval_episodes=3, num_envs=NUM_ENVS, progress_every=0, device="cpu",
                   overrides=dict(get_algorithm(algo).tuned.get("smoke", {})))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker below: same thread count, same floating-point reductions
    try:
        ref = resume.run_uninterrupted(dataclasses.replace(spec, out=str(tmp_path / "ref")))
    finally:
        torch.set_num_threads(threads)
    # the unit a sweep worker runs: python -m harness.worker '<RunSpec JSON>'
    cmd = [sys.executable, "-m", "harness.worker", json.dumps(dataclasses.asdict(spec))]
    d = records.run_dir(out, task, algo, 1)
    rng = random.Random(f"sigkill:{algo}")
    env = dict(os.environ, OMP_NUM_THREADS="1", DPBENCH_THREADS="1")
    kills = []
    for _ in range(2):
        with open(tmp_path / "worker.log", "a") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        start = len(records.read_eval_rows(d)) if (d / "evals.csv").exists() else 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:  # wait for a new checkpoint ...
            try:
                if len(records.read_eval_rows(d)) > start and (d / "checkpoint.pt").exists():
                    break
            except records.RecordError:
                pass
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))  # ... then kill at a random moment
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills.append(len(records.read_eval_rows(d)))
    final = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert kills, "the run finished before it could be killed; raise env_steps"
    assert records.read_manifest(d)["resumes"] >= 1
    resume.assert_same_records(ref, d, f"{algo} on {task}, SIGKILLed at eval rows {kills}")


class _StatelessEnv:
    """A toy env that cannot save its state (as IsaacLab's): everything but ``env_state``."""

    def __init__(self, env):
        self._env, self.spec = env, env.spec

    def reset(self):
        return self._env.reset()

    def step(self, action):
        return self._env.step(action)

    def set_episode_steps(self, steps):
        self._env.set_episode_steps(steps)

    def close(self):
        self._env.close()


def test_env_without_state_resumes_statistically(tmp_path, resume):
    """Where the env state cannot be saved the resumed run restarts its envs from a fresh reset (and
    drops the partial rollout): complete, one row per eval point, recorded as a statistical resume."""

    def stateless(prep):
        factory = prep.task.factory
        return dataclasses.replace(prep, task=dataclasses.replace(
            prep.task, factory=lambda n, seed, device: _StatelessEnv(factory(n, seed, device))))

    b, kills = resume.run_interrupted(_spec("ppo", "toy/MultiGoal", tmp_path), random.Random(3), kills=2,
                                      per_act=NUM_ENVS, adapt=stateless)
    m = records.read_manifest(b)
    assert m["status"] == "complete" and m["resumes"] >= 1 and m["resume"] == "statistical", kills
    assert [r["env_steps"] for r in records.read_eval_rows(b)] == list(range(0, ENV_STEPS + 1, EVAL_EVERY))
