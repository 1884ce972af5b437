"""Config hashes: fields added after records existed keep the older records' hashes at their legacy value."""

from __future__ import annotations

import dataclasses

from harness.config import config_hash, config_to_json, run_config_hash
from methods.cppo.config import CPPOConfig


def test_a_field_at_its_legacy_value_is_left_out_of_the_hash():
    cfg = CPPOConfig()
    full = config_to_json(cfg)
    # a record from before kernel_base (and before the later legacy-declared fields)
    before_the_field = {k: v for k, v in full.items() if k not in CPPOConfig.LEGACY_DEFAULTS}
    assert run_config_hash(cfg) == config_hash(before_the_field)
    assert config_hash(full) != config_hash(before_the_field)  # what the declaration prevents
    assert run_config_hash(dataclasses.replace(cfg, kernel_base="identity")) != run_config_hash(cfg)
