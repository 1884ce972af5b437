"""Subprocess entry point of the local sweep executor: ``python -m harness.worker '<RunSpec JSON>'``."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    import torch

    threads = int(os.environ.get("DPBENCH_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    from .runner import RunSpec, prepare, train

    spec = RunSpec(**json.loads(argv[0]))
    result = train(prepare(spec))
    return 0 if result.status in ("complete", "diverged") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
