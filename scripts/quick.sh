#!/usr/bin/env bash
# The main job (README): install into .venv (CPU torch pinned by constraints.txt), then run the
# embedded default sweep configs/quick.toml with 2 workers; it ends by regenerating the figures,
# tables and report under runs/quick/report/. Re-running resumes / skips finished runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
# A `.venv` *file* pointing into .tox/ is a redirect that newer tox wrote before tox.ini turned it off.
if [ -f .venv ] && grep -q '^\.tox/' .venv; then
  echo "removing .venv, a tox redirect file ($(cat .venv)), to create the main job's venv there"
  rm -f .venv
fi
if [ ! -x .venv/bin/dpbench ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c constraints.txt -e '.[playground,analysis,dev]'
fi
exec .venv/bin/dpbench sweep configs/quick.toml --workers "${WORKERS:-2}" "$@"
