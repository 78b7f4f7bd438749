#!/usr/bin/env bash
# Everything a first GPU should be asked, in one run of under 8 minutes that writes one JSON
# (benchmarks/gpu_check.py says what each step measures): the suite's GPU cases (tests/test_cuda.py), the
# training step at stage-1 and stage-2 settings in float32 and bfloat16 with HSG's share beside the backbone
# alone, the read-out's images/s, and the CamVid launcher's PROFILE=gpu for a few hundred iterations.
# A step that fails or times out is recorded (name, exit status, the tail of its output); the others run.
#
#   bash bashscripts/gpu_check.sh                                        # one GPU -> benchmarks/results/gpu_check.json
#   bash bashscripts/gpu_check.sh --out /tmp/gpu.json --steps cuda_tests readout_speed
#   bash bashscripts/gpu_check.sh --device cpu --quick --out /tmp/dry.json   # dry run of every step on the CPU
#
# Environment: CAMVID [../shared/data/CamVid] (or --camvid DIR); PYTHON, HSG_VENV: see bashscripts/lib.sh.
# Exit status 1 when any step failed.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
exec "$PYTHON" "$HSG_ROOT/benchmarks/gpu_check.py" --python "$PYTHON" "$@"
