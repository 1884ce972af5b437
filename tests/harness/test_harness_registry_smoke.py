"""Every registered algorithm on a tiny toy task: runs, records, finite, reproducible.

Parametrised over the registry, so a new baseline is covered the moment it registers. An algorithm
may give a ``"smoke"`` entry in its tuned table (small nets, short warm-up) to keep this cheap.
"""

from __future__ import annotations

import pytest
import torch

from harness import records
from harness.registry import get_algorithm, list_algorithms
from harness.runner import RunSpec, run

ALGOS = [a.name for a in list_algorithms() if not a.name.startswith("test_")]


@pytest.mark.parametrize("algo", ALGOS)
def test_algorithm_smoke_on_toy(algo, tmp_path):
    overrides = dict(get_algorithm(algo).tuned.get("smoke", {}))
    kw = dict(algo=algo, task="toy/Target1D", seed=0, env_steps=2_000, eval_every=1_000, eval_episodes=4,
              num_envs=4, progress_every=0, overrides=overrides)
    a = run(RunSpec(out=str(tmp_path / "a"), **kw))
    assert a.status == "complete", records.read_manifest(a.path).get("error")
    rows = records.read_eval_rows(a.path)
    assert [r["env_steps"] for r in rows] == [0, 1000, 2000]
    # checkpoints hold tensors and plain data only: they load with weights_only=True
    assert torch.load(a.path / "checkpoint.pt", weights_only=True)["eval_index"] == 3
    assert get_algorithm(algo).reference or rows[-1]["updates"] > 0, f"{algo} never updated within 2000 env steps (keep the toy warm-up below that) on the toy preset"
    b = run(RunSpec(out=str(tmp_path / "b"), **kw))
    strip = lambda rs: [{k: v for k, v in r.items() if "seconds" not in k and k != "peak_memory_mb"} for r in rs]
    assert strip(records.read_eval_rows(b.path)) == strip(rows), f"{algo} is not reproducible on CPU"
