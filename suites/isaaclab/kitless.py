"""Build a real IsaacLab 3.0 env in kitless mode: Newton physics on MuJoCo-Warp, no Isaac Sim.

``make_isaaclab_env(task, num_envs, seed, device)`` does what IsaacLab's own kitless training does,
``gym.make(task, cfg=parse_env_cfg(task, device, num_envs, overrides=["physics=newton_mjwarp"]))``,
after pointing IsaacLab's asset root at local files (``suites.isaaclab.assets``) and checking that
every asset file the resolved cfg names is there. It sets ``cfg.seed`` and
``cfg.compute_final_obs = True``. Every missing piece is an ``IsaacLabUnavailable`` naming it and
how to get it, raised before the simulation starts:

* the packages (``isaaclab`` 3.0 in a Python 3.12 venv: ``bash scripts/setup_isaaclab.sh``);
* a CUDA device when ``device`` is ``cuda``;
* the physics preset: tasks without ``newton_mjwarp`` need Isaac Sim (PhysX, an RTX GPU);
* asset files (USD robots, textures) missing under the asset root, and remote asset URLs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from typing import Any, Iterator

from . import assets

__all__ = ["IsaacLabUnavailable", "missing_isaaclab", "make_isaaclab_env", "env_open", "PHYSICS_PRESET", "SETUP_COMMAND"]

PHYSICS_PRESET = "newton_mjwarp"
"""IsaacLab 3.0's kitless physics preset (Newton with the MuJoCo-Warp solver)."""

SETUP_COMMAND = "bash scripts/setup_isaaclab.sh"
"""The one command that builds the IsaacLab venv (Python 3.12, isaaclab==3.0.0, dpbench)."""

_OPEN_ENV: Any = None


class IsaacLabUnavailable(ImportError):
    """A piece IsaacLab needs is missing (package, device, physics preset, asset); the message says which and how to get it."""


def missing_isaaclab() -> str | None:
    """None if this interpreter can build kitless IsaacLab envs, else what is missing and the fix.

    Cheap: checks the Python version and that the packages are importable, imports nothing heavy.
    """
    problems = []
    if sys.version_info[:2] != (3, 12):
        problems.append(f"this is Python {sys.version_info.major}.{sys.version_info.minor}; isaaclab 3.0 needs 3.12")
    missing = [m for m in ("isaaclab", "isaaclab_tasks", "isaaclab_newton", "newton", "warp")
               if importlib.util.find_spec(m) is None]
    if missing:
        problems.append(f"not installed here: {', '.join(missing)}")
    if not problems:
        return None
    return (f"IsaacLab 3.0 (kitless) is not available in {sys.executable} ({'; '.join(problems)}). "
            f"It lives in its own Python 3.12 venv: run `{SETUP_COMMAND}` (see suites/isaaclab/README.md).")


def env_open() -> bool:
    """True while an IsaacLab env built here is open (IsaacLab allows one per process)."""
    return _OPEN_ENV is not None and not getattr(getattr(_OPEN_ENV, "unwrapped", _OPEN_ENV), "_is_closed", False)


def _walk_strings(obj: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable from a configclass tree (dataclass fields, dicts, lists, tuples)."""
    seen = set() if seen is None else seen
    if isinstance(obj, str):
        yield obj
        return
    if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool, type)):
        return
    seen.add(id(obj))
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _walk_strings(getattr(obj, f.name, None), seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _walk_strings(v, seen)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk_strings(v, seen)


_ASSET_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz", ".hdr", ".exr", ".png", ".jpg", ".mdl", ".obj", ".stl", ".urdf", ".xml")


def missing_assets(cfg: Any, root: str) -> list[str]:
    """Asset files named by ``cfg`` that are not on this machine: local paths that do not exist
    (relative to ``root`` where under it) and remote URLs (no asset server is assumed reachable)."""
    out = []
    for s in sorted(set(_walk_strings(cfg))):
        if not s.lower().endswith(_ASSET_SUFFIXES):
            continue
        if "://" in s:
            out.append(s)
        elif not os.path.exists(s):
            out.append(os.path.relpath(s, root) if s.startswith(root) else s)
    return out


def resolve_cfg(task: str, num_envs: int, seed: int, device: str) -> Any:
    """``parse_env_cfg`` with the kitless physics preset, the device, ``num_envs``, ``seed`` and
    ``compute_final_obs``; raises ``IsaacLabUnavailable`` for any missing piece (nothing is started)."""
    msg = missing_isaaclab()
    if msg is not None:
        raise IsaacLabUnavailable(msg)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise IsaacLabUnavailable(f"{task}: device {device!r} asked for but no CUDA GPU is visible; use device cpu")
    root = assets.activate()
    import isaaclab_tasks  # noqa: F401  (registers the Isaac-* ids)
    from isaaclab_tasks.utils.parse_cfg import parse_env_cfg

    try:
        cfg = parse_env_cfg(task, device=device, num_envs=num_envs, overrides=[f"physics={PHYSICS_PRESET}"])
    except Exception as e:  # noqa: BLE001 - IsaacLab raises various types for an unknown preset
        raise IsaacLabUnavailable(
            f"{task} has no kitless physics preset '{PHYSICS_PRESET}' in isaaclab 3.0 ({type(e).__name__}: "
            f"{str(e)[:300]}): it needs Isaac Sim (PhysX), i.e. an RTX GPU and `pip install \"isaaclab[isaacsim]==3.0.0\"` "
            "from NVIDIA's index (see suites/isaaclab/README.md)"
        ) from e
    missing = missing_assets(cfg, root)
    if missing:
        raise IsaacLabUnavailable(
            f"{task} needs asset files that are not on this machine (asset root {root}): {', '.join(missing)}. "
            f"Mirror them from NVIDIA's asset server ({assets.REMOTE_ROOT}/<same path>) into a folder with the "
            f"same layout and set {assets.ENV_VAR}=<folder> (see suites/isaaclab/README.md, 'Assets')."
        )
    cfg.seed = int(seed)
    cfg.compute_final_obs = True
    return cfg


def make_isaaclab_env(task: str, num_envs: int, seed: int, device: str = "cpu") -> Any:
    """``gym.make(task, cfg=resolve_cfg(...))``: a kitless IsaacLab 3.0 env on ``device``.

    Raises ``IsaacLabUnavailable`` (see ``resolve_cfg``) and ``RuntimeError`` while another
    IsaacLab env of this process is open (one simulation context per process).
    """
    global _OPEN_ENV
    if env_open():
        raise RuntimeError(
            "an IsaacLab env is already open in this process and IsaacLab 3.0 allows one simulation context "
            "per process: close() it first, or build the second env in a child process (suites.isaaclab.remote)"
        )
    cfg = resolve_cfg(task, num_envs, seed, device)
    import gymnasium as gym

    env = gym.make(task, cfg=cfg)
    _OPEN_ENV = env
    return env
