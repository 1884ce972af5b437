"""Shared fixtures for the analysis tests: the hand-written ``results_tiny`` records and helpers that
make broken copies of them (missing seed, diverged run, ragged grid, ...)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.records import read_manifest, run_dir, truncate_eval_rows, write_manifest

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
