"""CLI: listing, and every bad-input case exits 2 before anything in --out is touched."""

import subprocess
import sys
from pathlib import Path

import pytest

from dpbench.cli import main


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    (d / "toy" / "Target1D" / "ppo" / "seed_0").mkdir(parents=True)
    (d / "keep.txt").write_text("precious")
    return d


def test_list_shows_algorithms_and_tasks(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "ppo" in text and "toy/MultiGoal" in text and "toy/Target1D" in text


BAD_RUNS = [
    (["--algo", "nope", "--task", "toy/Target1D"], "unknown algorithm 'nope'"),
    (["--algo", "ppo", "--task", "toy/Nope"], "unknown task 'toy/Nope'"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "bogus=1"], "unknown config key 'bogus'"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "lr=fast"], "'lr'"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "epochs=2.5"], "'epochs'"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "schedule=cosine"], "allowed: 'adaptive', 'fixed'"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "noequals"], "key=value"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "0"], "positive integer"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "ten"], "positive integer"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--device", "tpu"], "unknown device"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "lr=nan"], "not a finite number"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--set", "gamma=inf"], "not a finite number"),
    (["--algo", "cppo", "--task", "toy/Target1D", "--set", "flow_lr=-inf"], "not a finite number"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "99999999999999999999999"], "beyond any machine's reach"),
    (["--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "100000000", "--eval-every", "1"], "evaluation points"),
]


@pytest.mark.parametrize("argv,needle", BAD_RUNS)
def test_bad_run_input_exits_2_and_touches_nothing(argv, needle, out, capsys):
    before = _snapshot(out)
    with pytest.raises(SystemExit) as e:
        rc = main(["run", *argv, "--out", str(out)])
        raise SystemExit(rc)
    assert e.value.code == 2
    assert needle in capsys.readouterr().err
    assert _snapshot(out) == before


SPECS = {
    "missing": (None, "not found"),
    "malformed": ("seeds = [0,\n", "malformed TOML"),
    "unknown_algo": ('seeds=[0]\nalgorithms=["ppo","zzz"]\n[tasks."toy/Target1D"]\nenv_steps=100\n', "unknown algorithm 'zzz'"),
    "unknown_task": ('seeds=[0]\nalgorithms=["ppo"]\n[tasks."toy/Zzz"]\nenv_steps=100\n', "unknown task 'toy/Zzz'"),
    "bad_budget": ('seeds=[0]\nalgorithms=["ppo"]\n[tasks."toy/Target1D"]\nenv_steps=-3\n', "positive integer"),
    "float_budget": ('seeds=[0]\nalgorithms=["ppo"]\n[tasks."toy/Target1D"]\nenv_steps=1.5\n', "positive integer"),
    "bad_key": ('seeds=[0]\nalgorithms=["ppo"]\n[tasks."toy/Target1D"]\nenv_steps=100\n[config.ppo]\nlrr=1\n', "unknown config key 'lrr'"),
    "bad_type": ('seeds=[0]\nalgorithms=["ppo"]\n[tasks."toy/Target1D"]\nenv_steps=100\n[config.ppo]\nlr="x"\n', "'lr'"),
    "bad_seeds": ('seeds=[-1]\nalgorithms=["ppo"]\n[tasks."toy/Target1D"]\nenv_steps=100\n', "seeds"),
    "no_tasks": ('seeds=[0]\nalgorithms=["ppo"]\n', "'tasks'"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bad_sweep_spec_exits_2_and_touches_nothing(name, out, tmp_path, capsys):
    text, needle = SPECS[name]
    spec = tmp_path / f"{name}.toml"
    if text is not None:
        spec.write_text(text)
    before = _snapshot(out)
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    assert needle in capsys.readouterr().err
    assert _snapshot(out) == before


def test_bad_workers_flag_exits_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "dpbench", "sweep", "x.toml", "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "positive integer" in r.stderr


def test_existing_run_with_other_config_is_refused(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", "--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "200", "--eval-every", "100",
                 "--out", str(out), "--progress-every", "0"]) == 0
    before = _snapshot(out)
    rc = main(["run", "--algo", "ppo", "--task", "toy/Target1D", "--env-steps", "200", "--eval-every", "100",
               "--out", str(out), "--set", "lr=0.5"])
    assert rc == 2 and "different config" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_config_lists_every_hyperparameter_with_its_meaning(capsys):
    import dataclasses

    from harness.registry import get_algorithm

    assert main(["config", "cppo", "--task", "toy/MultiGoal"]) == 0
    text = capsys.readouterr().out
    for f in dataclasses.fields(get_algorithm("cppo").config_cls):
        assert f"  {f.name} : " in text, f.name
    assert "PPO ratio clip epsilon" in text  # a docstring inherited from PPOLoopConfig
    assert main(["config", "nope"]) == 2


def test_sweep_seeds_and_algos_select_a_subset(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('name="s"\nseeds=[0,1,2]\nalgorithms=["ppo","cppo"]\n[tasks."toy/Target1D"]\nenv_steps=100\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--seeds", "2,1", "--algos", "cppo"]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert [(ln[0], ln[3]) for ln in lines] == [("cppo", "1"), ("cppo", "2")]
    for flag, value, needle in (("--seeds", "3", "subset of the spec's seeds [0, 1, 2]"), ("--seeds", "a", "integers"),
                                ("--algos", "dacer", "subset of the spec's algorithms ['ppo', 'cppo']")):
        assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), flag, value]) == 2
        assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
