"""Config hashes: fields added after records existed keep the older records' hashes at their legacy value."""

from __future__ import annotations

import dataclasses

import json
from pathlib import Path

from harness.config import config_hash, config_to_json, resolve_config, run_config_hash, stored_config_overrides
from harness.registry import get_algorithm, get_task
from methods.cppo.config import CPPOConfig

ROOT = Path(__file__).resolve().parents[2]


def test_a_field_at_its_legacy_value_is_left_out_of_the_hash():
    # every legacy-declared field at its legacy value (CPPO's defaults moved off some of them in issue 13)
    cfg = dataclasses.replace(CPPOConfig(), **CPPOConfig.LEGACY_DEFAULTS)
    full = config_to_json(cfg)
    # a record from before kernel_base (and before the later legacy-declared fields)
    before_the_field = {k: v for k, v in full.items() if k not in CPPOConfig.LEGACY_DEFAULTS}
    assert run_config_hash(cfg) == config_hash(before_the_field)
    assert config_hash(full) != config_hash(before_the_field)  # what the declaration prevents
    assert run_config_hash(dataclasses.replace(cfg, kernel_base="identity")) != run_config_hash(cfg)


def test_a_stored_manifest_rebuilds_with_legacy_values_for_fields_it_predates():
    """scripts/check_reproduces.py rebuilds a run from its manifest's config: a field the manifest does
    not list (added later) must take its legacy value, not today's default (kernel_base: "identity"
    since issue 13, "langevin" when this record was made)."""
    m = json.loads((ROOT / "results/quick/playground/CartpoleBalance/cppo/seed_0/manifest.json").read_text())
    assert "kernel_base" not in m["config"]
    spec, task = get_algorithm("cppo"), get_task(m["task"])
    rebuilt = resolve_config(spec, task, stored_config_overrides(spec.config_cls, m["config"]))
    assert rebuilt.kernel_base == "langevin" and rebuilt.kl_source == "kernel"
    assert run_config_hash(rebuilt) == m["config_hash"]
    naive = resolve_config(spec, task, dict(m["config"]))  # what the script did before
    assert run_config_hash(naive) != m["config_hash"]
