"""PPO learning checks on real runs with real thresholds."""

from __future__ import annotations

import pytest

from harness import records
from harness.runner import RunSpec, run


def test_ppo_reaches_a_goal_in_90_percent_of_multigoal_episodes(tmp_path):
    r = run(RunSpec(algo="ppo", task="toy/MultiGoal", seed=0, out=str(tmp_path), env_steps=40_000,
                    eval_every=20_000, progress_every=0))
    last = records.read_eval_rows(r.path)[-1]
    reached = sum(o >= 0 for o in last["outcomes"]) / len(last["outcomes"])
    assert reached >= 0.9, f"goal reached in {reached:.0%} of deterministic eval episodes"
    assert last["return_mean"] > 15.0


@pytest.mark.slow
@pytest.mark.playground
def test_ppo_reaches_900_on_cartpole_balance(tmp_path):
    pytest.importorskip("mujoco_playground")
    # 400k env steps: about 5 minutes on a quiet 2-core CPU, including JIT and evaluations.
    r = run(RunSpec(algo="ppo", task="playground/CartpoleBalance", seed=0, out=str(tmp_path), env_steps=400_000,
                    eval_every=50_000, progress_every=30))
    rows = records.read_eval_rows(r.path)
    assert rows[-1]["return_mean"] >= 900, [round(x["return_mean"]) for x in rows]
