"""Slurm task states -> queued / running / ended, and the rule that decides which runs of a sweep
are resubmitted (no cluster needed: squeue and the records are stand-ins)."""

from __future__ import annotations

import pytest

from harness.executors.options import ExecutorOptionError
from harness.executors.slurm import ENDED_STATES, split_unfinished, task_phase
from harness.runner import RunSpec


@pytest.mark.parametrize("state", ["PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "SPECIAL_EXIT",
                                   "RESV_DEL_HOLD", "PREEMPTED", "POWER_UP_NODE", "SOMETHING_NEW"])
def test_waiting_states_are_queued(state):
    assert task_phase(state) == "queued"


@pytest.mark.parametrize("state", ["RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING",
                                   "RUNNING+", "running"])
def test_allocated_states_are_running(state):
    assert task_phase(state) == "running"


@pytest.mark.parametrize("state", sorted(ENDED_STATES) + ["CANCELLED by 0", None, "", "  "])
def test_terminal_states_and_absence_are_ended(state):
    assert task_phase(state) == "ended"


def _runs(n: int) -> list[RunSpec]:
    return [RunSpec(algo="ppo", task="toy/Target1D", seed=s, out="/nowhere") for s in range(n)]


def _earlier(runs: list[RunSpec]) -> dict:
    return {f"{rs.task}|{rs.algo}|{rs.seed}": {"job_id": f"7_{rs.seed}"} for rs in runs}


def test_task_finishing_between_squeue_and_records_is_not_resubmitted():
    """The race seen on a clean clone: a task leaves squeue after the records were read. Slurm is
    asked first now, so the task either is still listed or its record is already final."""
    runs = _runs(3)
    calls: list[str] = []
    final = {0}

    def query(ids):
        calls.append("squeue")
        return {"7_1": "RUNNING"}  # task 2 has just completed and left squeue

    def status(rs):
        calls.append("record")
        if rs.seed == 2:
            final.add(2)  # ... and wrote its final record before we read it
        return "complete" if rs.seed in final else "running"

    done, attached, submit = split_unfinished(runs, _earlier(runs), query, status, sleep=lambda s: None)
    assert calls[0] == "squeue"
    assert [rs.seed for rs in done] == [0, 2] and attached == {"toy/Target1D|ppo|1": "7_1"} and submit == []


def test_task_missed_for_a_moment_is_looked_at_again():
    runs = _runs(2)
    answers = iter([{"7_0": "RUNNING"}, {"7_0": "RUNNING", "7_1": "PENDING"}])  # 7_1 hidden on the first look
    slept: list[float] = []
    done, attached, submit = split_unfinished(runs, _earlier(runs), lambda ids: next(answers), lambda rs: "running",
                                              recheck_s=2.5, sleep=slept.append)
    assert done == [] and submit == [] and set(attached) == {"toy/Target1D|ppo|0", "toy/Target1D|ppo|1"}
    assert slept == [2.5]


def test_gone_task_without_final_record_is_resubmitted_and_new_runs_are_submitted():
    runs = _runs(3)
    earlier = _earlier(runs[:2])
    said: list[str] = []
    done, attached, submit = split_unfinished(runs, earlier, lambda ids: {"7_0": "REQUEUED", "7_1": "FAILED"},
                                              lambda rs: "running", sleep=lambda s: None, say=said.append)
    assert attached == {"toy/Target1D|ppo|0": "7_0"} and [rs.seed for rs in submit] == [1, 2] and done == []
    assert len(said) == 1 and "task 7_1" in said[0] and "FAILED" in said[0]


def test_no_earlier_submission_needs_no_squeue():
    runs = _runs(2)

    def query(ids):
        raise AssertionError("squeue asked without earlier submissions")

    done, attached, submit = split_unfinished(runs, {}, query, lambda rs: None, sleep=lambda s: None)
    assert [rs.seed for rs in submit] == [0, 1]


def test_squeue_failing_submits_nothing():
    runs = _runs(1)
    with pytest.raises(ExecutorOptionError, match="squeue failed"):
        split_unfinished(runs, _earlier(runs), lambda ids: None, lambda rs: "running", sleep=lambda s: None)
