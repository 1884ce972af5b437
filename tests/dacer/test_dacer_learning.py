"""DACER learning checks through the real runner (slow: run with ``pytest -m slow tests/dacer``)."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from harness.runner import RunSpec, run


@pytest.mark.slow
def test_dacer_reaches_a_goal_on_multigoal(tmp_path):
    torch.set_num_threads(1)
    res = run(RunSpec(algo="dacer", task="toy/MultiGoal", seed=0, out=str(tmp_path), env_steps=40_000,
                      eval_every=20_000, eval_episodes=32, device="cpu", progress_every=0))
    assert res.status == "complete"
    with open(res.path / "evals.csv") as f:
        last = list(csv.DictReader(f))[-1]
    outcomes = json.loads(last["outcomes"])
    assert float(last["return_mean"]) > 10.0
    assert sum(o >= 0 for o in outcomes) >= len(outcomes) // 2
