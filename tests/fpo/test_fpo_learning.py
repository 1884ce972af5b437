"""FPO / FPO++ learning checks on real runs with real thresholds (slow: ~15 CPU-seconds each)."""

from __future__ import annotations

import pytest

from harness import records
from harness.runner import RunSpec, run


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["fpo", "fpo_plus"])
def test_fpo_reaches_a_goal_on_multigoal(algo, tmp_path):
    # 20k env steps (the quick/onpolicy_cpu budget); the random initial policy scores about -2.
    r = run(RunSpec(algo=algo, task="toy/MultiGoal", seed=0, out=str(tmp_path), env_steps=20_000,
                    eval_every=10_000, eval_episodes=32, progress_every=0))
    last = records.read_eval_rows(r.path)[-1]
    reached = sum(o >= 0 for o in last["outcomes"]) / len(last["outcomes"])
    assert reached >= 0.9, f"goal reached in {reached:.0%} of deterministic eval episodes"
    assert last["return_mean"] > 15.0, last["return_mean"]
