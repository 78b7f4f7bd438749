#!/usr/bin/env bash
# Installs what is needed (see setup_env.sh) and runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSG_ROOT"
exec python -m pytest -q tests "$@"
