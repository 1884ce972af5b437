"""Executor options on the command line: every bad one exits 2 with a message before anything is
submitted or written; ``--dry-run`` prints the Ray/Slurm resource plan without touching ``--out``."""

from __future__ import annotations

import pytest

from dpbench.cli import main

SPEC = """
name = "exe"
seeds = [0, 1]
algorithms = ["ppo"]
[tasks."toy/Target1D"]
env_steps = 4000
eval_every = 2000
"""


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "exe.toml"
    p.write_text(SPEC)
    return p


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


BAD = [
    (["--executor", "kubernetes"], "unknown --executor 'kubernetes'; allowed: local, ray, slurm"),
    (["--executor", "ray"], "--executor ray needs --out"),
    (["--executor", "ray", "--out", "relative/runs"], "is relative"),
    (["--executor", "ray", "@OUT", "--cpus-per-run", "0"], "--cpus-per-run 0"),
    (["--executor", "ray", "@OUT", "--gpus-per-run", "1.5"], "above 1 it must be a whole number"),
    (["--executor", "ray", "@OUT", "--gpus-per-run", "-1"], "must be a number >= 0"),
    (["--executor", "ray", "@OUT", "--max-retries", "-1"], "--max-retries -1"),
    (["--executor", "ray", "@OUT", "--address", "not an address"], "allowed: auto, local, HOST:PORT"),
    (["--executor", "ray", "@OUT", "--partition", "gpu"], "--partition do(es) not apply to --executor ray"),
    (["--executor", "ray", "@OUT", "--workers", "2"], "--workers do(es) not apply"),
    (["--executor", "slurm", "@OUT", "--time", "soon"], "--time 'soon'"),
    (["--executor", "slurm", "@OUT", "--mem", "12Q"], "--mem '12Q'"),
    (["--executor", "slurm", "@OUT", "--gpus-per-run", "0.5"], "Slurm allocates whole GPUs"),
    (["--executor", "slurm", "@OUT", "--cpus-per-run", "0"], "--cpus-per-run 0: must be an integer >= 1"),
    (["--executor", "slurm", "@OUT", "--sbatch=--array=0-3"], "--array is set by dpbench"),
    (["--executor", "slurm", "@OUT", "--sbatch=qos"], "allowed: a long sbatch flag"),
    (["--executor", "slurm", "@OUT", "--slurm-array-parallelism", "0"], "--slurm-array-parallelism 0"),
    (["--executor", "slurm", "@OUT", "--partition", "a b"], "--partition 'a b'"),
    (["--executor", "slurm", "@OUT", "--address", "auto"], "--address do(es) not apply to --executor slurm"),
    (["--executor", "local", "--gpus-per-run", "1"], "cluster options need --executor ray or slurm"),
    (["--log", "mlflow"], "unknown --log sink(s) ['mlflow']; allowed: tensorboard, wandb"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_executor_options_exit_2_before_anything(tmp_path, spec, capsys, argv, message):
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "f.txt").write_text("precious")
    before = _snapshot(tmp_path)
    argv = [a if a != "@OUT" else f"--out={out}" for a in argv]
    assert main(["sweep", str(spec), "--no-figures", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert _snapshot(tmp_path) == before


def test_run_rejects_unknown_sink(capsys):
    assert main(["run", "--algo", "ppo", "--task", "toy/Target1D", "--log", "tensorboard,bogus"]) == 2
    assert "allowed: tensorboard, wandb" in capsys.readouterr().err


def test_ray_dry_run_prints_the_resource_plan(tmp_path, spec, capsys):
    out = tmp_path / "out"
    argv = ["sweep", str(spec), "--executor", "ray", "--out", str(out), "--cpus-per-run", "0.5",
            "--gpus-per-run", "0.25", "--address", "10.0.0.1:6379", "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "executor ray, address 10.0.0.1:6379: 2 runs (2 to run" in text
    assert "num_cpus=0.5 (torch threads 1), num_gpus=0.25, max_retries=3" in text
    assert "GPU packing: 4 runs share each GPU" in text
    assert not out.exists()


def test_slurm_dry_run_prints_sbatch_parameters(tmp_path, spec, capsys):
    out = tmp_path / "out"
    argv = ["sweep", str(spec), "--executor", "slurm", "--out", str(out), "--partition", "gpu", "--account", "rl",
            "--time", "2:00:00", "--cpus-per-run", "4", "--gpus-per-run", "1", "--mem", "16G",
            "--slurm-array-parallelism", "8", "--sbatch=--qos=high", "--dry-run"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "as one job array of 2 tasks" in text
    pytest.importorskip("submitit")
    for flag in ("#SBATCH --array=0-1%2", "#SBATCH --partition=gpu", "#SBATCH --account=rl", "#SBATCH --time=120",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --gpus-per-task=1", "#SBATCH --mem=16GB",
                 "#SBATCH --qos=high", "#SBATCH --signal=USR2@90"):
        assert flag in text, text
    assert not out.exists()


def test_sweep_status_reports_from_records(tmp_path, spec, capsys):
    out = tmp_path / "out"
    assert main(["sweep", "status", str(spec), "--out", str(out)]) == 0
    assert "2 runs: 2 not started" in capsys.readouterr().out
    assert main(["sweep", "status", str(tmp_path / "missing.toml")]) == 2


def test_cluster_plan_does_not_need_the_gpu_on_the_driver(tmp_path, spec, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: nothing to show")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--device", "cuda", "--no-figures", "--out", str(out), "--dry-run"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    argv = ["sweep", str(spec), "--device", "cuda", "--executor", "slurm", "--gpus-per-run", "1", "--out", str(out),
            "--dry-run"]
    assert main(argv) == 0, capsys.readouterr().err
    assert not out.exists()


def test_importing_submitit_keeps_the_host_logging_handlers():
    """submitit's import-time ``logging.config.dictConfig`` closes every handler of the process (it made
    pytest fail a later test with "I/O operation on closed file"); ``import_submitit`` avoids it and
    still gives submitit's logger its stdout/stderr handlers."""
    pytest.importorskip("submitit")
    import subprocess
    import sys

    code = (
        "import logging, os\n"
        "h = logging.FileHandler(os.devnull); logging.getLogger('host').addHandler(h)\n"
        "from harness.executors.slurm import import_submitit\n"
        "import_submitit()\n"
        "assert h.stream is not None and not h.stream.closed, 'host handler closed'\n"
        "assert len(logging.getLogger('submitit').handlers) == 2\n"
        "assert 'SUBMITIT_LOG_LEVEL' not in os.environ\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
