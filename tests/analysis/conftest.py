"""Shared fixtures for the analysis tests: the hand-written ``results_tiny`` records and helpers that
make broken copies of them (missing seed, diverged run, ragged grid, ...)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.records import append_eval_row, read_manifest, run_dir, truncate_eval_rows, write_manifest

TINY = Path(__file__).resolve().parent / "fixtures" / "results_tiny"


@pytest.fixture
def tiny() -> Path:
    """The read-only fixture directory (3 algos x 2 tasks x 3 seeds x 3 eval points)."""
    assert TINY.is_dir(), "run tests/analysis/fixtures/make_fixtures.py"
    return TINY


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture, to break in a test."""
    dst = tmp_path / "results"
    shutil.copytree(TINY, dst)
    return dst


def _edit_manifest(root: Path, task: str, algo: str, seed: int, changes: dict) -> Path:
    """Rewrite one run's manifest with ``changes``; returns the run directory."""
    d = run_dir(root, task, algo, seed)
    m = read_manifest(d)
    m.update(changes)
    write_manifest(d, m)
    return d


def _keep_eval_rows(root: Path, task: str, algo: str, seed: int, keep: int) -> Path:
    """Keep only the first ``keep`` eval rows of one run."""
    d = run_dir(root, task, algo, seed)
    truncate_eval_rows(d, keep)
    return d


@pytest.fixture
def edit_manifest():
    """``edit_manifest(root, task, algo, seed, changes)``: rewrite one run's manifest (pytest runs with
    ``--import-mode=importlib``, so helpers are handed out as fixtures rather than imported)."""
    return _edit_manifest


@pytest.fixture
def keep_eval_rows():
    """``keep_eval_rows(root, task, algo, seed, keep)``: truncate one run's evals.csv."""
    return _keep_eval_rows


def _add_reference_runs(root: Path, algo: str, task: str, returns: dict[int, float], flag: bool | None = True,
                        status: str = "complete", eval_protocol: dict | None = None) -> list[Path]:
    """Write never-learning reference runs of ``algo`` on ``task``: seed -> constant return on the task's
    eval grid (copied from the fixture's cppo run of that task). ``flag`` is the manifest's
    ``reference`` value (None: key absent)."""
    template = read_manifest(run_dir(TINY, task, "cppo", 0))
    grid = template["budget"]["eval_grid"]
    episodes = template["budget"]["eval_episodes"]
    dirs = []
    for seed, r in returns.items():
        d = run_dir(root, task, algo, seed)
        d.mkdir(parents=True)
        m = dict(template, algo=algo, algorithm=algo, seed=seed, status=status, config_hash=f"hash-{algo}",
                 run_id=f"{algo}-{seed}", seeds=dict(template["seeds"], root=seed))
        m.pop("reference", None)
        if flag is not None:
            m["reference"] = flag
        if eval_protocol is not None:
            m["eval_protocol"] = eval_protocol
        write_manifest(d, m)
        for i, step in enumerate(grid):
            append_eval_row(d, {
                "eval_index": i, "env_steps": step, "env_steps_actual": step, "updates": 0, "train_seconds": 0.0,
                "eval_seconds": 1.0, "compile_seconds": 0.0, "return_mean": r, "return_std": 0.0,
                "returns": [r] * episodes, "outcomes": [], "episode_length_mean": 1000.0,
                "stochastic_return_mean": r, "stochastic_return_std": 0.0, "stochastic_returns": [r] * episodes,
                "stochastic_outcomes": [], "extra": {}, "peak_memory_mb": 100.0,
            })
        dirs.append(d)
    return dirs


@pytest.fixture(scope="session")
def add_reference_runs():
    """``add_reference_runs(root, algo, task, {seed: return}, flag=True, status="complete", eval_protocol=None)``."""
    return _add_reference_runs


REPORT_REPS = 200
CPPO_PROTOCOL = {"deterministic": "flow from x0 = 0, then the kernel mean",
                 "stochastic": "flow from x0 ~ N(0, I), kernel sample",
                 "extra_modes": {"flow": "flow only, x0 = 0, no kernel", "best_of_8": "8 samples, highest Q"}}
ZERO_PROTOCOL = {"deterministic": "zero action", "stochastic": "zero action", "extra_modes": {}}


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory):
    """``regenerate`` of the bare fixture (reps 200, seed 0), shared by the test modules."""
    from analysis.report import regenerate

    return regenerate(TINY, tmp_path_factory.mktemp("tiny_report"), reps=REPORT_REPS, seed=0)


@pytest.fixture(scope="session")
def refs_report(tmp_path_factory):
    """``(report, records dir)`` of the fixture plus reference runs and eval protocols (reps 200, seed 0):

    * ``zero_action`` on CartpoleBalance, seeds 0-1, return 697 (a reference by its name, no manifest flag),
      with ``eval_protocol``; a *failed* ``zero_action`` run on MultiGoal seed 0 (left out, noted);
    * ``random_action`` on CartpoleBalance, seeds 0-1, returns 100 and 200 (manifest flag);
    * ``still`` on CartpoleBalance, seeds 0-2, return 50 (a reference by its manifest flag only);
    * every cppo run carries :data:`CPPO_PROTOCOL`; ppo and dacer predate the protocol.
    """
    from analysis.report import regenerate

    root = tmp_path_factory.mktemp("refs") / "results"
    shutil.copytree(TINY, root)
    _add_reference_runs(root, "zero_action", "playground/CartpoleBalance", {0: 697.0, 1: 697.0}, flag=None,
                        eval_protocol=ZERO_PROTOCOL)
    _add_reference_runs(root, "zero_action", "toy/MultiGoal", {0: -2.5}, status="failed", eval_protocol=ZERO_PROTOCOL)
    _add_reference_runs(root, "random_action", "playground/CartpoleBalance", {0: 100.0, 1: 200.0})
    _add_reference_runs(root, "still", "playground/CartpoleBalance", {0: 50.0, 1: 50.0, 2: 50.0})
    for task in ("playground/CartpoleBalance", "toy/MultiGoal"):
        for seed in (0, 1, 2):
            _edit_manifest(root, task, "cppo", seed, {"eval_protocol": CPPO_PROTOCOL})
    return regenerate(root, tmp_path_factory.mktemp("refs_report"), reps=REPORT_REPS, seed=0), root
