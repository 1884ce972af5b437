"""Runner: reproducibility, shared env randomness across algorithms, divergence, resume."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

from harness import records
from harness.registry import TaskSpec, register_algorithm, register_task
from harness.runner import RunSpec, prepare, run, train
from suites.toy.envs import Target1D

CLOCKS = {"train_seconds", "eval_seconds", "compile_seconds", "peak_memory_mb"}


def _rows_without_clocks(path):
    with open(path / "evals.csv") as f:
        return [{k: v for k, v in r.items() if k not in CLOCKS} for r in csv.DictReader(f)]


def test_same_run_twice_gives_identical_evals(tmp_path):
    kw = dict(algo="ppo", task="toy/Target1D", seed=5, env_steps=2_000, eval_every=1_000, progress_every=0)
    a = run(RunSpec(out=str(tmp_path / "a"), **kw))
    b = run(RunSpec(out=str(tmp_path / "b"), **kw))
    assert a.status == b.status == "complete"
    ra, rb = _rows_without_clocks(a.path), _rows_without_clocks(b.path)
    assert len(ra) == 3 and ra == rb
    c = run(RunSpec(out=str(tmp_path / "c"), **(kw | {"seed": 6})))
    assert _rows_without_clocks(c.path) != ra


# A spy task recording every reset state, and a second (random) algorithm.
_RESETS: dict[int, list[torch.Tensor]] = {}


class _SpyTarget(Target1D):
    def __init__(self, num_envs, seed, device="cpu"):
        super().__init__(num_envs, seed, device)
        self._seed = seed

    def reset(self):
        obs = super().reset()
        _RESETS.setdefault(self._seed, []).append(obs.clone())
        return obs


register_task(TaskSpec(name="testsuite/Spy", factory=_SpyTarget, episode_length=20, env_steps=400,
                       eval_every=200, eval_episodes=4, num_envs=4, preset="toy"))


@dataclasses.dataclass(frozen=True)
class _RandomConfig:
    scale: float = 1.0
    """Uniform action scale."""


class _RandomAgent:
    def __init__(self, cfg, spec, seeds, device):
        self.spec, self.gen = spec, seeds.generator("train")

    def act(self, obs):
        return torch.rand(obs.shape[0], self.spec.action_dim, generator=self.gen) * 2 - 1, {}

    def eval_act(self, obs, mode, generator):
        return torch.rand(obs.shape[0], self.spec.action_dim, generator=generator) * 2 - 1

    def observe(self, t):
        pass

    def ready(self):
        return False

    def update(self):
        return {}

    def state_dict(self):
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, s):
        self.gen.set_state(s["gen"])


register_algorithm(name="test_random", config=_RandomConfig, on_policy=False, upstream="test")(_RandomAgent)


def test_different_algorithms_see_the_same_initial_states(tmp_path):
    _RESETS.clear()
    for algo in ("ppo", "test_random"):
        run(RunSpec(algo=algo, task="testsuite/Spy", seed=1, out=str(tmp_path), progress_every=0))
    seeds = prepare(RunSpec(algo="ppo", task="testsuite/Spy", seed=1, out=str(tmp_path)))
    train_resets = _RESETS[seeds.seeds.env]
    eval_resets = _RESETS[seeds.seeds.eval]
    # one training reset per algorithm, identical; eval resets identical at every eval point and algorithm
    assert len(train_resets) == 2 and torch.equal(train_resets[0], train_resets[1])
    assert len(eval_resets) >= 4 and all(torch.equal(e, eval_resets[0]) for e in eval_resets)
    assert not torch.equal(train_resets[0], eval_resets[0][:4])


class _NaNAgent(_RandomAgent):
    def ready(self):
        return True

    def update(self):
        return {"loss": float("nan")}


register_algorithm(name="test_nan", config=_RandomConfig, on_policy=False, upstream="test")(_NaNAgent)


def test_divergence_is_recorded_not_hidden(tmp_path):
    r = run(RunSpec(algo="test_nan", task="testsuite/Spy", seed=0, out=str(tmp_path), progress_every=0))
    assert r.status == "diverged"
    m = records.read_manifest(r.path)
    assert m["status"] == "diverged" and "non-finite" in m["error"]
    assert len(records.read_eval_rows(r.path)) == 1  # the eval at 0 was recorded before divergence


def test_resume_from_checkpoint_gives_one_row_per_eval_point(tmp_path):
    spec = RunSpec(algo="ppo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=3_000, eval_every=1_000,
                   progress_every=0)
    prep = prepare(spec)

    class Boom(Exception):
        pass

    orig = records.append_eval_row
    calls = {"n": 0}

    def flaky(d, row):
        orig(d, row)
        calls["n"] += 1
        if calls["n"] == 3:
            raise Boom("simulated crash after the third eval row")

    records.append_eval_row = flaky
    try:
        with pytest.raises(Boom):
            train(prep)
    finally:
        records.append_eval_row = orig
    m = records.read_manifest(prep.path)
    assert m["status"] == "failed" and "simulated crash" in m["error"]
    assert len(records.read_eval_rows(prep.path)) == 3  # row written, checkpoint not yet
    result = train(prepare(spec))
    assert result.status == "complete"
    rows = records.read_eval_rows(prep.path)
    assert [r["env_steps"] for r in rows] == [0, 1000, 2000, 3000]
    assert records.read_manifest(prep.path)["resumes"] == 1
    again = train(prepare(spec))
    assert again.skipped and len(records.read_eval_rows(prep.path)) == 4


class _Evil:
    """Unpickling this would call ``os.system``: a checkpoint holding it must be refused."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_checkpoint_with_a_pickled_callable_is_refused(tmp_path):
    import pickle

    from harness.runner import _load_checkpoint

    torch.save({"agent": _Evil(), "env_steps": 0}, tmp_path / "checkpoint.pt")
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(tmp_path / "checkpoint.pt", "cpu")
