#!/usr/bin/env bash
# Installs what is needed (see setup_env.sh) and runs the end-to-end demo on generated data:
# over-segmentation, stage-1 and stage-2 training, prototypes, inference, mIoU and pictures.
# Extra arguments go to pyenv/demo.py (for example --quick, or --save_dir DIR).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSG_ROOT"
exec python pyenv/demo.py "$@"
