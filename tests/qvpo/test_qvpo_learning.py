"""QVPO learning checks (slow: minutes on one CPU core; run with ``pytest -m slow tests/qvpo``)."""

from __future__ import annotations

import json

import pytest

from harness import records
from harness.runner import RunSpec, run


@pytest.mark.slow
def test_qvpo_reaches_a_goal_on_multigoal(tmp_path):
    """toy/MultiGoal, 20 k env steps with the toy preset (~2.3 k gradient steps): the behaviour policy
    (best of 4 by Q) and upstream's best-of-32 evaluation reach a goal in most episodes.
    Measured (seed 0, 2 contended cores, ~6 min): stochastic 17.7 (64/64 goals),
    best_of_32_by_q 17.9 (64/64)."""
    spec = RunSpec(algo="qvpo", task="toy/MultiGoal", seed=0, out=str(tmp_path), env_steps=20_000,
                   eval_every=10_000, device="cpu", progress_every=0,
                   overrides={"schedule_env_steps": 20_000})
    result = run(spec)
    assert result.status == "complete"
    rows = records.read_eval_rows(result.path)
    last = rows[-1]
    extra = last["extra"] if isinstance(last["extra"], dict) else json.loads(last["extra"])
    outcomes = extra["best_of_32_by_q"]["outcomes"]
    assert sum(o >= 0 for o in outcomes) >= 0.75 * len(outcomes)
    assert float(last["stochastic_return_mean"]) > 10.0
