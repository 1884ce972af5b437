"""DPPO (from scratch) learning checks on real runs with real thresholds (slow: ``pytest -m slow``)."""

from __future__ import annotations

import pytest

from harness import records
from harness.runner import RunSpec, run


@pytest.mark.slow
def test_dppo_from_scratch_improves_on_target1d(tmp_path):
    # toy/Target1D: reward -|a - target|; the random initial denoising chain scores about -24.
    r = run(RunSpec(algo="dppo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=4_000,
                    eval_every=2_000, progress_every=0))
    rows = records.read_eval_rows(r.path)
    assert rows[-1]["return_mean"] > rows[0]["return_mean"] + 5.0, [round(x["return_mean"], 2) for x in rows]
