"""One integer root seed per run -> named, independent streams.

``derive_seed(root, *names)`` hashes the root and the names with SHA-256, so streams are
independent of each other and of the order they are asked for. The ``env`` and ``eval`` streams
are keyed by (task, root seed) only, never by algorithm: seed k gives every algorithm the same
environment randomness and the same evaluation start states.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

__all__ = ["derive_seed", "RunSeeds"]

_MASK = (1 << 63) - 1


def derive_seed(root: int, *names: str) -> int:
    """A 63-bit seed determined by ``root`` and the stream ``names``."""
    h = hashlib.sha256(repr((int(root),) + tuple(str(n) for n in names)).encode()).digest()
    return int.from_bytes(h[:8], "little") & _MASK


@dataclass(frozen=True)
class RunSeeds:
    """The derived seeds of one run (all recorded in the manifest)."""

    root: int
    env: int
    """Training env randomness (task + root only)."""
    eval: int
    """Evaluation env randomness, the same at every evaluation (task + root only)."""
    init: int
    """Network initialisation."""
    train: int
    """Sampling inside the agent: exploration noise, minibatch order, replay sampling."""

    @classmethod
    def derive(cls, root: int, task: str, algo: str) -> "RunSeeds":
        return cls(
            root=int(root),
            env=derive_seed(root, "env", task),
            eval=derive_seed(root, "eval", task),
            init=derive_seed(root, "init", task, algo),
            train=derive_seed(root, "train", task, algo),
        )

    def generator(self, stream: str, device: str = "cpu"):
        """A fresh ``torch.Generator`` on ``device`` seeded from ``stream`` (e.g. ``"train"``)."""
        import torch

        g = torch.Generator(device=device)
        g.manual_seed(getattr(self, stream))
        return g

    def child(self, stream: str, *names: str) -> int:
        """A further named seed below ``stream`` (e.g. ``seeds.child("train", "minibatch")``)."""
        return derive_seed(getattr(self, stream), *names)

    def to_json(self) -> dict[str, int]:
        return asdict(self)
