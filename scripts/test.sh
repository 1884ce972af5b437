#!/usr/bin/env bash
# The test command (README): builds a tool venv with tox and runs the default tox envs
# (full suite, the torch-free analysis env, mypy, IsaacLab, the real Ray/Slurm clusters). Extra
# arguments go to tox, e.g. `-e slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .tox-venv/bin/tox ]; then
  "$PY" -m venv .tox-venv
  .tox-venv/bin/pip install -q "tox>=4"
fi
exec .tox-venv/bin/tox "$@"
