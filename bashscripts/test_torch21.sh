#!/usr/bin/env bash
# The whole test suite on the oldest PyTorch that hsg supports (2.1), in its own environment .venv-torch21.
# Not part of CI: on x86_64 PyPI's torch 2.1 wheels are CUDA builds (about 3 GB to download once).
# torch 2.1 was built before NumPy 2, so NumPy (and, through it, OpenCV) is held below 2 with a pip
# constraint file. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
printf 'torch==2.1.2\nnumpy<2\n' > "$constraints"
HSG_VENV="${HSG_VENV:-$ROOT/.venv-torch21}" HSG_TORCH='torch==2.1.2' PIP_CONSTRAINT="$constraints" \
  bash "$ROOT/bashscripts/test.sh" "$@"
