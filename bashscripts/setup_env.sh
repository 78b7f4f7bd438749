#!/usr/bin/env bash
# Creates (once) the virtual environment .venv in the project root and installs hsg into it.
# Sourced by bashscripts/demo.sh and bashscripts/test.sh, and run by bashscripts/lib.sh for every dataset
# launcher, so a fresh machine needs only Python >= 3.10.
#   HSG_VENV     where the environment lives (default: <project>/.venv)
#   HSG_TORCH    the torch requirement installed first (default: torch==2.13.0; on a machine whose
#                package index has no such build, e.g. HSG_TORCH='torch>=2.1')
set -euo pipefail
HSG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HSG_VENV="${HSG_VENV:-$HSG_ROOT/.venv}"
HSG_TORCH="${HSG_TORCH:-torch==2.13.0}"
PY="${PYTHON:-python3}"

if [ ! -x "$HSG_VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $HSG_VENV"
  "$PY" -m venv "$HSG_VENV"
fi
VPY="$HSG_VENV/bin/python"
"$VPY" -c 'import sys; assert sys.version_info >= (3, 10), "hsg needs Python >= 3.10"'
# find_spec, not import: importing torch takes seconds, and the launchers run this before every recipe.
if ! "$VPY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' >/dev/null 2>&1; then
  # torch first: a loose requirement with no torch installed would pull a multi-GB CUDA build.
  echo "[setup] installing $HSG_TORCH"
  "$VPY" -m pip install -q --disable-pip-version-check "$HSG_TORCH" || \
    "$VPY" -m pip install -q --disable-pip-version-check 'torch>=2.1'
fi
stamp="$HSG_VENV/.hsg-installed"
if [ ! -f "$stamp" ] || [ "$HSG_ROOT/setup.py" -nt "$stamp" ] || [ "$HSG_ROOT/requirements.txt" -nt "$stamp" ]; then
  echo "[setup] installing hsg and its requirements"
  "$VPY" -m pip install -q --disable-pip-version-check -e "$HSG_ROOT[test]"
  touch "$stamp"
fi
export PATH="$HSG_VENV/bin:$PATH"
