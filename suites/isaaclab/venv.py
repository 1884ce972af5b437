"""The IsaacLab venv (Python 3.12, isaaclab 3.0) that runs ``isaaclab/*`` tasks from any other venv.

``scripts/setup_isaaclab.sh`` builds it at ``$DPBENCH_ISAACLAB_VENV`` (default ``.venv-isaaclab``
in the checkout). From the main venv, ``dpbench run`` re-executes itself with that venv's Python
and ``dpbench sweep`` starts the worker of each ``isaaclab/*`` run there (``TaskSpec.python``), so
sweeps can mix Playground and IsaacLab tasks.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["venv_dir", "venv_python", "isaaclab_here", "delegate_python"]


def venv_dir() -> Path:
    """``$DPBENCH_ISAACLAB_VENV`` or ``<checkout>/.venv-isaaclab``."""
    env = os.environ.get("DPBENCH_ISAACLAB_VENV")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / ".venv-isaaclab"


def venv_python() -> Path | None:
    """The venv's ``bin/python`` if the venv exists, else None."""
    py = venv_dir() / "bin" / "python"
    return py if py.exists() else None


def isaaclab_here() -> bool:
    """True when this interpreter can import IsaacLab 3.0 (Python 3.12 with isaaclab_tasks)."""
    return sys.version_info[:2] == (3, 12) and importlib.util.find_spec("isaaclab_tasks") is not None


def delegate_python() -> str | None:
    """The interpreter an ``isaaclab/*`` run must use: None here where IsaacLab imports (or no venv
    exists: then ``available()`` says how to build it), else the IsaacLab venv's Python."""
    if isaaclab_here():
        return None
    py = venv_python()
    return None if py is None else str(py)
