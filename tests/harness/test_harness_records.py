"""Records: round trip, schema check, torn lines, atomic writes, truncation on resume."""

import json

import pytest

from harness import records

ROW = {
    "eval_index": 0, "env_steps": 0, "env_steps_actual": 0, "updates": 0, "train_seconds": 0.0,
    "eval_seconds": 0.5, "compile_seconds": 1.0, "return_mean": 1.5, "return_std": 0.5,
    "returns": [1.0, 2.0], "outcomes": [0, -1], "episode_length_mean": 10.0,
    "stochastic_return_mean": 1.0, "stochastic_return_std": 0.0, "stochastic_returns": [1.0, 1.0],
    "stochastic_outcomes": [2, 3], "extra": {"flow": {"return_mean": 1.0, "returns": [1.0], "outcomes": []}},
    "peak_memory_mb": 100.0,
}


def test_round_trip(tmp_path):
    records.write_manifest(tmp_path, {"status": "running", "algo": "ppo"})
    for i in range(3):
        records.append_eval_row(tmp_path, ROW | {"eval_index": i, "env_steps": 100 * i})
    run = records.load_run(tmp_path)
    assert run.manifest["schema_version"] == records.SCHEMA_VERSION
    assert [r["env_steps"] for r in run.evals] == [0, 100, 200]
    assert run.evals[1]["returns"] == [1.0, 2.0]
    assert run.evals[1]["extra"]["flow"]["returns"] == [1.0]
    assert run.evals[2] == ROW | {"eval_index": 2, "env_steps": 200}


def test_schema_version_is_checked(tmp_path):
    records.write_manifest(tmp_path, {"status": "complete"})
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["schema_version"] = 999
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(records.RecordError, match="schema_version 999"):
        records.read_manifest(tmp_path)


def test_bad_status_rejected(tmp_path):
    with pytest.raises(records.RecordError):
        records.write_manifest(tmp_path, {"status": "weird"})


def test_torn_last_line_is_ignored_and_truncate_rewrites(tmp_path):
    for i in range(3):
        records.append_eval_row(tmp_path, ROW | {"eval_index": i})
    with open(tmp_path / "evals.csv", "a") as f:
        f.write("3,300,300,5")  # crash mid-write
    assert len(records.read_eval_rows(tmp_path)) == 3
    records.truncate_eval_rows(tmp_path, 2)
    assert [r["eval_index"] for r in records.read_eval_rows(tmp_path)] == [0, 1]
    assert not list(tmp_path.glob("*.tmp"))


def test_wrong_columns_raise(tmp_path):
    (tmp_path / "evals.csv").write_text("a,b\n1,2\n")
    with pytest.raises(records.RecordError, match="columns"):
        records.read_eval_rows(tmp_path)


def test_run_dir_layout(tmp_path):
    assert records.run_dir(tmp_path, "toy/MultiGoal", "ppo", 3) == tmp_path / "toy" / "MultiGoal" / "ppo" / "seed_3"
