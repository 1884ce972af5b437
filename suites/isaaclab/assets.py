"""Where IsaacLab finds its asset files: offline, on this machine.

IsaacLab resolves every robot / ground-plane USD under an asset root (``ISAAC_NUCLEUS_DIR`` =
``<root>/Isaac``), by default NVIDIA's asset server, read from ``ISAACSIM_ASSET_ROOT`` when
``isaaclab.utils.assets`` is first imported. ``activate()`` sets that variable to a local folder
with the server's layout, before IsaacLab is imported:

1. ``$DPBENCH_ISAACLAB_ASSETS`` if set: a user's own mirror (e.g. a copy of the parts of
   ``REMOTE_ROOT`` their tasks need, same relative paths);
2. else the files shipped here (``suites/isaaclab/assets/``, see its README.md): the cartpole and
   the ant from the ``newton`` 1.6.1 package (Apache-2.0) and a collision-only ground plane.

A mirror replaces the shipped folder (one root); copy the shipped files into it to keep
Cartpole and Ant.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "SHIPPED", "REMOTE_ROOT", "asset_root", "activate"]

ENV_VAR = "DPBENCH_ISAACLAB_ASSETS"
"""Environment variable naming a local asset mirror (same layout as ``REMOTE_ROOT``)."""

SHIPPED = Path(__file__).resolve().parent / "assets"
"""The asset root shipped with dpbench (Cartpole, Ant, ground plane)."""

REMOTE_ROOT = "https://omniverse-content-production.s3-us-west-2.amazonaws.com/Assets/Isaac/6.2"
"""NVIDIA's asset root for isaaclab 3.0 (``persistent.isaac.asset_root.default`` of its kit file)."""


def asset_root() -> str:
    """The local asset root in use: ``$DPBENCH_ISAACLAB_ASSETS`` or the shipped folder."""
    root = os.environ.get(ENV_VAR) or str(SHIPPED)
    return root.rstrip("/\\")


def activate() -> str:
    """Point IsaacLab at ``asset_root()`` (``ISAACSIM_ASSET_ROOT``) and return that root.

    Must run before ``isaaclab.utils.assets`` is imported; raises ``RuntimeError`` if IsaacLab was
    already imported with another root (its module constants are fixed at import).
    """
    import sys

    root = asset_root()
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{ENV_VAR}={root!r} is not a directory (unset it to use the shipped assets)")
    mod = sys.modules.get("isaaclab.utils.assets")
    if mod is not None and getattr(mod, "NUCLEUS_ASSET_ROOT_DIR", root) != root:
        raise RuntimeError(
            f"isaaclab.utils.assets was imported before dpbench set its asset root: it uses "
            f"{mod.NUCLEUS_ASSET_ROOT_DIR!r}, not {root!r}; import suites.isaaclab first or set ISAACSIM_ASSET_ROOT={root}"
        )
    os.environ["ISAACSIM_ASSET_ROOT"] = root
    return root
