#!/usr/bin/env bash
# IsaacLab 3.0 (kitless: Newton / MuJoCo-Warp, no Isaac Sim) in its own Python 3.12 venv.
#
#   bash scripts/setup_isaaclab.sh            # creates $DPBENCH_ISAACLAB_VENV (default .venv-isaaclab)
#
# isaaclab==3.0.0 needs Python 3.12 exactly and pins torch==2.11.0 (a CUDA build on PyPI that also
# runs on the CPU; ~7.8 GB), so it cannot share the main venv (Python 3.11, CPU torch 2.13).
#
# Two steps, so that a new checkout (CI's clean clone) does not download 7.8 GB again:
# 1. the dependency template $DPBENCH_ISAACLAB_CACHE (default ~/.cache/dpbench/isaaclab-3.0.0-py3.12):
#    a venv with isaaclab==3.0.0, pytest, setuptools and wheel from PyPI (pip's own cache applies),
#    built once per machine (cold: minutes, network needed);
# 2. the checkout's venv: `python3.12 -m venv`, the template's site-packages hard-linked in (copied
#    where hard links fail), and this checkout's dpbench installed editable without network
#    (--no-deps --no-build-isolation): seconds to a minute.
# Python 3.12 comes from $PYTHON312, python3.12 on PATH, or pyenv's 3.12.x. Re-running is a no-op
# once the venv answers the check. Exit status 2 when Python 3.12 is missing (the message says how to
# get it), 3 when an install fails (e.g. no network for step 1: the message says so).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DPBENCH_ISAACLAB_VENV:-.venv-isaaclab}
ISAACLAB_VERSION=3.0.0
CACHE=${DPBENCH_ISAACLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dpbench/isaaclab-$ISAACLAB_VERSION-py3.12}
SITE=lib/python3.12/site-packages

check() {  # $1: venv, $2: also require this checkout's dpbench
  "$1/bin/python" - "$2" "$PWD" <<'PY' >/dev/null 2>&1
import importlib.util, os, sys
mods = ["isaaclab", "isaaclab_tasks", "newton", "warp", "gymnasium", "pytest", "setuptools"]
if sys.argv[1] == "1":
    mods += ["harness", "suites.isaaclab"]
missing = [m for m in mods if importlib.util.find_spec(m) is None]
if sys.argv[1] == "1" and not missing:  # dpbench must come from this checkout
    here = os.path.dirname(os.path.dirname(importlib.util.find_spec("harness").origin))
    missing += [] if os.path.samefile(here, sys.argv[2]) else ["harness from " + sys.argv[2]]
sys.exit(1 if missing or sys.version_info[:2] != (3, 12) else 0)
PY
}

if [ -x "$VENV/bin/python" ] && check "$VENV" 1; then
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
start=$(date +%s)

# 1. the dependency template (once per machine)
if ! { [ -x "$CACHE/bin/python" ] && check "$CACHE" 0; }; then
  echo "IsaacLab dependency template: $CACHE (isaaclab==$ISAACLAB_VERSION from PyPI, ~7.8 GB; minutes)"
  mkdir -p "$(dirname "$CACHE")"
  [ -x "$CACHE/bin/python" ] || "$PY" -m venv "$CACHE"
  # No constraints.txt here: it pins the main venv's CPU torch 2.13; isaaclab pins torch 2.11.0.
  if ! PIP_CONSTRAINT= "$CACHE/bin/pip" install -q "isaaclab==$ISAACLAB_VERSION" "pytest>=8" "pytest-timeout>=2" \
       "setuptools>=68" wheel || ! check "$CACHE" 0; then
    echo "setup_isaaclab.sh: pip could not install isaaclab==$ISAACLAB_VERSION into $CACHE (network? PyPI reachable?)" >&2
    exit 3
  fi
  echo "IsaacLab dependency template built in $(( $(date +%s) - start )) s"
fi

# 2. this checkout's venv: template site-packages linked in, dpbench (editable) from here
echo "IsaacLab venv: $VENV with $PY ($("$PY" --version)), site-packages from $CACHE"
rm -rf "$VENV"
"$PY" -m venv --without-pip "$VENV"
cp -al "$CACHE/$SITE/." "$VENV/$SITE/" 2>/dev/null || cp -a "$CACHE/$SITE/." "$VENV/$SITE/"
if ! PIP_CONSTRAINT= "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation --no-index -e . ||
   ! check "$VENV" 1; then
  echo "setup_isaaclab.sh: $VENV was built but isaaclab_tasks / newton / this checkout's dpbench do not import" >&2
  exit 3
fi
echo "IsaacLab venv ready: $VENV ($(( $(date +%s) - start )) s)"
