#!/usr/bin/env bash
# IsaacLab 3.0 (kitless: Newton / MuJoCo-Warp, no Isaac Sim) in its own Python 3.12 venv.
#
#   bash scripts/setup_isaaclab.sh            # creates $DPBENCH_ISAACLAB_VENV (default .venv-isaaclab)
#
# isaaclab==3.0.0 needs Python 3.12 exactly and pins torch==2.11.0 (a CUDA build on PyPI that also
# runs on the CPU; ~7.8 GB), so it cannot share the main venv (Python 3.11, CPU torch 2.13).
# The script: finds Python 3.12 ($PYTHON312, python3.12 on PATH, or pyenv's 3.12.x), creates the
# venv, installs isaaclab==3.0.0 and dpbench (editable, with pytest: the dev extra) into it, reusing pip's cache
# (~/.cache/pip, or $PIP_CACHE_DIR), and checks that `isaaclab_tasks` imports. Re-running is a
# no-op once the venv answers the check. Exit status 2 when Python 3.12 is missing (the message
# says how to get it), 3 when the install fails (e.g. no network: the message says so).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DPBENCH_ISAACLAB_VENV:-.venv-isaaclab}
ISAACLAB_VERSION=3.0.0

check() {
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.util, sys
mods = ("isaaclab", "isaaclab_tasks", "newton", "warp", "gymnasium", "pytest", "harness", "suites.isaaclab")
missing = [m for m in mods if importlib.util.find_spec(m) is None]
sys.exit(1 if missing or sys.version_info[:2] != (3, 12) else 0)
PY
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "IsaacLab venv ready: $VENV ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("isaaclab", m.version("isaaclab"))'))"
  exit 0
fi

find_py312() {
  local c
  for c in "${PYTHON312:-}" python3.12; do
    if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for c in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
      [ -x "$c" ] && { echo "$c"; return 0; }
    done
  fi
  return 1
}

if ! PY=$(find_py312); then
  cat >&2 <<'MSG'
setup_isaaclab.sh: Python 3.12 not found (isaaclab 3.0.0 requires Python >=3.12,<3.13).
Get one, then re-run (or point PYTHON312 at it):
  pyenv install 3.12       # pyenv (https://github.com/pyenv/pyenv)
  uv python install 3.12   # or uv; then PYTHON312=$(uv python find 3.12) bash scripts/setup_isaaclab.sh
  apt-get install python3.12 python3.12-venv   # or Debian/Ubuntu (deadsnakes PPA on Ubuntu 22.04)
MSG
  exit 2
fi

echo "IsaacLab venv: $VENV with $PY ($("$PY" --version))"
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# No constraints.txt here: it pins the main venv's CPU torch 2.13, isaaclab pins torch 2.11.0.
if ! PIP_CONSTRAINT= "$VENV/bin/pip" install -q "isaaclab==$ISAACLAB_VERSION" ||
   ! PIP_CONSTRAINT= "$VENV/bin/pip" install -q -e ".[dev]" ; then
  echo "setup_isaaclab.sh: pip could not install isaaclab==$ISAACLAB_VERSION into $VENV (network? PyPI reachable?)" >&2
  exit 3
fi
if ! check; then
  echo "setup_isaaclab.sh: $VENV was installed but isaaclab_tasks / newton / dpbench do not import" >&2
  exit 3
fi
echo "IsaacLab venv ready: $VENV ($(( $(date +%s) - start )) s)"
