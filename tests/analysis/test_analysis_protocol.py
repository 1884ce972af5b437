"""The evaluation-definition table: rendered from each run's manifest ``eval_protocol``; old records
(no such key) read "not recorded (records predate the protocol)"."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.load import load_records
from analysis.protocol import NOT_RECORDED, PROTOCOL, EvalProtocolError, eval_definitions

CP, MG = "playground/CartpoleBalance", "toy/MultiGoal"
PPO = {"deterministic": "Gaussian mean", "stochastic": "sample from N(mean, std)", "extra_modes": {}}
CPPO = {"deterministic": "flow from x0 = 0, then the kernel mean", "stochastic": "flow from x0 ~ N(0, I), kernel sample",
        "extra_modes": {"flow": "flow only, x0 = 0, no kernel", "best_of_8": "8 samples, highest Q"}}


def _set_protocol(root, edit_manifest, algo, protocol, seeds=(0, 1, 2), tasks=(CP, MG)):
    for task in tasks:
        for seed in seeds:
            edit_manifest(root, task, algo, seed, {"eval_protocol": protocol})


def test_definitions_from_manifests(tiny_copy, edit_manifest):
    _set_protocol(tiny_copy, edit_manifest, "ppo", PPO)
    _set_protocol(tiny_copy, edit_manifest, "cppo", CPPO)
    df = eval_definitions(load_records(tiny_copy).runs)
    assert list(df.columns) == ["algo", "deterministic", "stochastic", "extra modes"]
    rows = df.set_index("algo")
    assert rows.loc["ppo", "deterministic"] == "Gaussian mean" and rows.loc["ppo", "extra modes"] == "none"
    assert rows.loc["cppo", "stochastic"] == CPPO["stochastic"]
    assert rows.loc["cppo", "extra modes"] == "`best_of_8`: 8 samples, highest Q; `flow`: flow only, x0 = 0, no kernel"
    assert (rows.loc["dacer"] == NOT_RECORDED).all()  # dacer's records predate the protocol


def test_old_records_say_not_recorded(tiny):
    df = eval_definitions(load_records(tiny).runs)
    assert list(df["algo"]) == ["cppo", "dacer", "ppo"]
    assert (df[["deterministic", "stochastic", "extra modes"]] == NOT_RECORDED).all().all()


def test_runs_that_disagree_get_one_row_each(tiny_copy, edit_manifest):
    _set_protocol(tiny_copy, edit_manifest, "ppo", PPO, seeds=(0, 1))  # seed 2 on both tasks: old records
    df = eval_definitions(load_records(tiny_copy).runs)
    ppo = df[df["algo"] == "ppo"].set_index("deterministic")
    assert ppo.loc["Gaussian mean", "runs"] == "4 of 6" and ppo.loc[NOT_RECORDED, "runs"] == "2 of 6"
    assert df[df["algo"] == "cppo"]["runs"].tolist() == ["6 of 6"]


@pytest.mark.parametrize("bad, match", [
    ("mean", "must be an object"),
    ({"deterministic": "mean"}, r"\['stochastic'\] must be a string"),
    ({"deterministic": "mean", "stochastic": "sample", "extra_modes": ["flow"]}, "extra_modes"),
])
def test_malformed_protocol_names_the_run(tiny_copy, edit_manifest, bad, match):
    edit_manifest(tiny_copy, CP, "dacer", 1, {"eval_protocol": bad})
    with pytest.raises(EvalProtocolError, match=match) as e:
        eval_definitions(load_records(tiny_copy).runs)
    assert "dacer" in str(e.value) and "seed_1" in str(e.value)


def test_report_states_protocol_and_table(refs_report):
    r, _ = refs_report
    md = r.index_md.read_text()
    assert "## Evaluation protocol" in md and PROTOCOL in md
    assert "| cppo | flow from x0 = 0, then the kernel mean |" in md
    assert f"| dacer | {NOT_RECORDED} | {NOT_RECORDED} | {NOT_RECORDED} |" in md
    assert "| zero_action | zero action | zero action | none |" in md  # reference algorithms are listed too
    table = pd.read_csv(r.directory / "tables" / "eval_definitions.csv")
    assert list(table["algo"]) == ["cppo", "dacer", "ppo", "random_action", "still", "zero_action"]
