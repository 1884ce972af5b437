"""Probe sampling and its records: ``probes.jsonl`` round trip, torn lines, schema check, resume
truncation, the sampler's determinism, and one real run writing one probe row per evaluation."""

from __future__ import annotations

import json

import pytest
import torch

from harness import records
from harness.probe_records import (
    PROBES_FILE,
    ProbeRow,
    ProbeSamples,
    append_probe_row,
    read_probe_rows,
    truncate_probe_rows,
)
from harness.probes import ProbeSampler, probe_states_of
from harness.runner import RunSpec, run
from suites.toy.envs import Target1D
from suites.toy.multigoal_sql import MultiGoalSQL


def _row(i: int) -> ProbeRow:
    return ProbeRow(i, 100 * i, (ProbeSamples("start", (0.0, 0.0), ((0.1, -0.2), (0.3, 0.4))),))


def test_round_trip_torn_line_and_truncation(tmp_path):
    for i in range(3):
        append_probe_row(tmp_path, _row(i))
    assert read_probe_rows(tmp_path) == [_row(0), _row(1), _row(2)]
    with open(tmp_path / PROBES_FILE, "a") as f:
        f.write('{"schema_version": 1, "eval_in')  # crash mid-write
    assert len(read_probe_rows(tmp_path)) == 3
    truncate_probe_rows(tmp_path, 2)
    assert read_probe_rows(tmp_path) == [_row(0), _row(1)]
    assert read_probe_rows(tmp_path / "nothing") == []


def test_unknown_schema_version_is_refused(tmp_path):
    d = _row(0).to_json() | {"schema_version": 99}
    (tmp_path / PROBES_FILE).write_text(json.dumps(d) + "\n")
    with pytest.raises(records.RecordError, match="schema_version"):
        read_probe_rows(tmp_path)


class _Agent:
    """Stochastic policy a = tanh(obs) + noise; counts calls to check the sampler leaves it alone."""

    def eval_act(self, obs, mode, generator):
        assert mode == "stochastic"
        return torch.tanh(obs) + 0.1 * torch.randn(obs.shape, generator=generator)


def test_sampler_is_deterministic_and_probe_major():
    env = MultiGoalSQL(2, seed=0)
    states = probe_states_of(env)
    sampler = ProbeSampler(states, seed=123, device="cpu", samples=64)
    a, b = sampler(_Agent()), sampler(_Agent())
    assert a == b and [p.name for p in a] == ["start", "west_half", "northeast_diag"]
    assert all(len(p.actions) == 64 for p in a)
    west = torch.tensor(a[1].actions)
    assert west[:, 0].mean().item() == pytest.approx(torch.tanh(torch.tensor(-2.5)).item(), abs=0.05)
    assert ProbeSampler(states, seed=124, device="cpu", samples=64)(_Agent()) != a
    assert probe_states_of(Target1D(2, seed=0)) == ()


def test_bad_probe_states_fail_early():
    env = MultiGoalSQL(2, seed=0)
    env.probe_states = (("x", (0.0,)),)
    with pytest.raises(ValueError, match="values"):
        probe_states_of(env)


def test_run_writes_one_probe_row_per_evaluation(tmp_path):
    res = run(RunSpec(algo="ppo", task="toy/MultiGoalSQL", seed=0, out=str(tmp_path), env_steps=512,
                      eval_every=256, eval_episodes=4, num_envs=8, progress_every=0))
    assert res.status == "complete"
    evals = records.read_eval_rows(res.path)
    probes = read_probe_rows(res.path)
    assert [(p.eval_index, p.env_steps) for p in probes] == [(r["eval_index"], r["env_steps"]) for r in evals]
    assert all(len(s.actions) == 256 and all(-1 <= x <= 1 for a in s.actions for x in a)
               for p in probes for s in p.probes)
    # a task without probe states writes no probes file
    res = run(RunSpec(algo="ppo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=256,
                      eval_every=256, eval_episodes=2, num_envs=4, progress_every=0))
    assert not (res.path / PROBES_FILE).exists()
