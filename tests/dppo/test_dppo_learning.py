"""DPPO (from scratch) learning checks on real runs with real thresholds (slow: ``pytest -m slow``)."""

from __future__ import annotations

import pytest
import torch

from harness import records
from harness.runner import RunSpec, run

torch.set_num_threads(1)

PPO_SIZED = {"clip_ploss_coef": 0.2, "clip_ploss_coef_base": 0.2, "lr": 1e-3}
"""From-scratch diagnostic: PPO-sized steps instead of upstream's fine-tuning ones (clip 0.01, lr 1e-4)."""


@pytest.mark.slow
def test_dppo_chain_learns_target1d_with_ppo_sized_steps(tmp_path):
    # toy/Target1D: reward -|a - target|; the random initial denoising chain scores about -23.
    r = run(RunSpec(algo="dppo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=4_000,
                    eval_every=2_000, progress_every=0, overrides=PPO_SIZED))
    rows = records.read_eval_rows(r.path)
    assert rows[-1]["return_mean"] > rows[0]["return_mean"] + 5.0, [round(x["return_mean"], 2) for x in rows]


@pytest.mark.slow
def test_dppo_at_upstream_fine_tuning_steps_barely_moves_from_scratch(tmp_path):
    # Documents baselines/dppo/README.md: from a random chain, clip 0.01 and lr 1e-4 leave the
    # deterministic policy where it started within this budget (measured: -22.72 at 0, 2k and 4k).
    r = run(RunSpec(algo="dppo", task="toy/Target1D", seed=0, out=str(tmp_path), env_steps=4_000,
                    eval_every=2_000, progress_every=0))
    rows = records.read_eval_rows(r.path)
    assert abs(rows[-1]["return_mean"] - rows[0]["return_mean"]) < 1.0, [round(x["return_mean"], 2) for x in rows]
