"""Every committed result folder still matches the spec that made it.

A change of a registry default (issue 13 made CPPO v2 the default) silently changes what a spec
resolves to; the runner then refuses to extend the stored records (config hash mismatch) and a
reader can no longer re-run the command written next to the numbers. Specs whose records were made
under older defaults pin them (``preset = "cppo_v1"``, ``desync = false``); this test resolves every
stored run of each pair below exactly as ``dpbench sweep SPEC --out FOLDER`` would and checks that
the runner accepts it (same config hash, budget and protocol). Runs not yet recorded are not built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import records
from harness.runner import prepare
from harness.sweep import expand, load_spec

ROOT = Path(__file__).resolve().parents[2]

SPEC_RECORDS = [
    ("ablation_cppo", "results/ablation_cppo"),
    ("ablation_cppo_playground", "results/ablation_cppo_playground"),
    ("cppo_v2", "results/cppo_v2"),
    ("cppo_v2_long", "results/cppo_v2_long"),
    ("dppo_scratch_variant", "results/dppo_scratch_variant"),
    ("isaaclab_cpu", "results/isaaclab_cpu"),
    ("multimodality", "results/multimodality"),
    ("multimodality_offpolicy", "results/multimodality"),
    ("onpolicy_cpu", "results/onpolicy_cpu"),
    ("onpolicy_cpu_genpo_dppo", "results/onpolicy_cpu_genpo_dppo"),
    ("protocol_ppo_desync", "results/protocol/desync"),
    ("protocol_ppo_sync", "results/protocol/sync"),
    ("protocol_tasks_ppo_desync", "results/protocol_tasks/desync"),
    ("protocol_tasks_ppo_sync", "results/protocol_tasks/sync"),
    ("quick", "results/quick_v3"),
]
"""(spec in configs/, result folder it extends)."""

SUPERSEDED = {
    "results/quick": "made by an earlier configs/quick.toml (MultiGoal + CartpoleBalance)",
    "results/quick_v2": "made by configs/quick.toml with CPPO's defaults before issue 13; re-made as results/quick_v3",
}
"""Result folders whose spec has moved on on purpose (their manifests keep every setting)."""


@pytest.mark.parametrize("name,folder", SPEC_RECORDS, ids=[f"{n}->{f}" for n, f in SPEC_RECORDS])
def test_spec_still_resolves_to_its_stored_records(name: str, folder: str) -> None:
    spec = load_spec(ROOT / "configs" / f"{name}.toml")
    out = str(ROOT / folder)
    checked = 0
    for rs in expand(spec, out, device="cpu"):
        if (records.run_dir(rs.out, rs.task, rs.algo, rs.seed) / "manifest.json").exists():
            prepare(rs)  # raises ValueError naming both hashes and protocols on any mismatch
            checked += 1
    assert checked > 0, f"no stored run of {name} found under {folder}"


def test_every_result_folder_is_covered() -> None:
    """A new result folder needs a pair above (or a reason in SUPERSEDED), so the guard stays complete."""
    covered = {f for _, f in SPEC_RECORDS} | set(SUPERSEDED)
    found = set()
    for manifest in (ROOT / "results").rglob("manifest.json"):
        rel = manifest.relative_to(ROOT).parts
        suite_at = next(i for i, p in enumerate(rel) if p in ("toy", "playground", "isaaclab"))
        found.add("/".join(rel[:suite_at]))
        assert json.loads(manifest.read_text()).get("sweep"), manifest
    assert found - covered == set(), f"result folders without a spec pair: {sorted(found - covered)}"
