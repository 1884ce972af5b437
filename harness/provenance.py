"""Provenance stored with every run: package versions, git commit, host, device, memory."""

from __future__ import annotations

import functools
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["package_versions", "git_state", "peak_memory_mb", "host"]

_PACKAGES = (
    "dpbench", "torch", "numpy", "jax", "jaxlib", "mujoco", "mujoco-mjx", "playground", "brax",
    "isaaclab", "rliable", "arch", "pandas", "matplotlib",
)


@functools.cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change results (absent ones are omitted)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@functools.cache
def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the checkout holding this package (None outside git)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return {"commit": commit or None, "dirty": bool(dirty) if commit else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MiB (plus peak CUDA memory where CUDA is in use)."""
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mb = rss_kb / 1024.0 if sys.platform != "darwin" else rss_kb / 2**20
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        mb += torch.cuda.max_memory_allocated() / 2**20
    return round(mb, 1)


def host() -> str:
    return platform.node()
