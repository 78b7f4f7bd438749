#!/usr/bin/env bash
# Shared steps of the dataset launchers (bashscripts/<dataset>/train.sh); sourced by them, not run.
# Sourcing it sets up the Python environment (as bashscripts/demo.sh does) and stops with one line when
# that is not possible, so that a fresh clone runs any launcher without a traceback.
#
# Environment read here (defaults in brackets):
#   PYTHON        [the python of HSG_VENV when that exists (bashscripts/setup_env.sh brings it up to date);
#                 else python3 when it can import hsg's requirements; else HSG_VENV, created and filled by
#                 bashscripts/setup_env.sh (torch included, a download)]
#   HSG_VENV      [<repository>/.venv] the virtual environment of bashscripts/setup_env.sh
#   NUM_GPUS      [number of visible GPUs, or 1] processes per node; torchrun is used when > 1 or NNODES > 1
#   NNODES [1]  NODE_RANK [0]  MASTER_ADDR [127.0.0.1]  MASTER_PORT [29500]   multi-node, as torchrun takes them
#   EXTRA_OPTS    [] extra "key=value" config overrides applied to every step
# The hsg package is taken from this repository (it goes first on PYTHONPATH), whatever the environment
# has installed, so that a launcher always runs the code beside it.

HSG_ROOT="${HSG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$HSG_ROOT"  # every path a launcher names (configs/, outputs/) is relative to the repository
export PYTHONPATH="$HSG_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# The modules of requirements.txt (import names), checked without importing them (torch takes seconds).
HSG_REQUIRED_MODULES=(torch numpy scipy tqdm yaml PIL cv2 tensorboard skimage higra matplotlib hsg)

# hsg_missing_modules PY: prints the required modules PY cannot find (nothing when all are there); fails
# when PY does not run or is older than Python 3.10.
hsg_missing_modules() {
  "$1" -c 'import importlib.util as u, sys
assert sys.version_info >= (3, 10)
print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))' "${HSG_REQUIRED_MODULES[@]}" 2>/dev/null
}

# hsg_setup_python: sets PYTHON (see the header), or stops with one line saying what to run.
hsg_setup_python() {
  local missing venv="${HSG_VENV:-$HSG_ROOT/.venv}"
  local fix="run 'bash bashscripts/setup_env.sh' (it creates .venv and installs hsg; docs/usage.md, Install)"
  if [ -z "${PYTHON:-}" ]; then
    if [ ! -x "$venv/bin/python" ] && [ -z "$(hsg_missing_modules python3 || echo none)" ]; then
      PYTHON=python3
    else
      if ! HSG_VENV="$venv" bash "$HSG_ROOT/bashscripts/setup_env.sh" >&2; then
        echo "[launcher] error: could not set up the Python environment $venv (see the lines above); $fix," \
             "or set PYTHON to a python that has hsg's requirements" >&2
        exit 1
      fi
      PYTHON="$venv/bin/python"
    fi
  fi
  if ! missing=$(hsg_missing_modules "$PYTHON"); then
    echo "[launcher] error: PYTHON=$PYTHON does not run, or is older than Python 3.10; $fix, or unset PYTHON" >&2
    exit 1
  fi
  if [ -n "$missing" ]; then
    echo "[launcher] error: PYTHON=$PYTHON cannot import $missing (hsg's requirements); $fix, or unset PYTHON" >&2
    exit 1
  fi
}
hsg_setup_python

if [ -z "${NUM_GPUS:-}" ]; then
  NUM_GPUS=$(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | wc -l || echo 0)
  [ "${NUM_GPUS:-0}" -ge 1 ] 2>/dev/null || NUM_GPUS=1
fi
NNODES="${NNODES:-1}"; NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"; MASTER_PORT="${MASTER_PORT:-29500}"
EXTRA_OPTS="${EXTRA_OPTS:-}"

hsg_log() { printf '\n=== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# hsg_step NAME: true unless RUN_<NAME>=0 (each step can be skipped from the environment).
hsg_step() { local var="RUN_$1"; [ "${!var:-1}" != "0" ]; }

# hsg_require_dir PATH WHAT: stop at once, with one line, when a data folder the recipe needs is missing.
hsg_require_dir() {
  if [ ! -d "$1" ]; then
    echo "[launcher] error: $2 not found: $1 (where to download it and its layout:" \
         "docs/data.md#datasets-where-to-get-them; then set the launcher's data variable, see its header)" >&2
    exit 1
  fi
}

# hsg_train CFG SNAPSHOT_DIR DATA_DIR DATA_LIST [key=value ...]
# hsg_python PROGRAM ARGS...: run a Python program on NUM_GPUS x NNODES processes (torchrun when more than one),
# as every long step does: training, over-segmentation, read-outs.
hsg_python() {
  local launcher=("$PYTHON")
  if [ "$NUM_GPUS" -gt 1 ] || [ "$NNODES" -gt 1 ]; then
    launcher=("$PYTHON" -m torch.distributed.run --nproc_per_node "$NUM_GPUS" --nnodes "$NNODES"
              --node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT")
  fi
  "${launcher[@]}" "$@"
}

hsg_train() {
  local cfg=$1 snap=$2 data=$3 list=$4; shift 4
  hsg_log "train $snap ($((NUM_GPUS * NNODES)) process(es))"
  # shellcheck disable=SC2086
  hsg_python "$HSG_ROOT/pyenv/train.py" --cfg_path "$cfg" --snapshot_dir "$snap" --data_dir "$data" \
    --data_list "$list" --opts "$@" $EXTRA_OPTS
}

# hsg_readout CFG SAVE_DIR DATA_DIR MEMORY_LIST TEST_LIST [pyenv/readout.py flags ...]
# The one read-out of every launcher: labelled memory, predictions of the test list, mIoU per read-out
# (grid, classes and the vote's k come from CFG). Pass --snapshot_dir RUN [--every_checkpoint] or
# --checkpoint FILE|untrained.
hsg_readout() {
  local cfg=$1 save=$2 data=$3 memory=$4 test=$5; shift 5
  hsg_log "read-out -> $save ($((NUM_GPUS * NNODES)) process(es))"
  # shellcheck disable=SC2086
  hsg_python "$HSG_ROOT/pyenv/readout.py" --cfg_path "$cfg" --data_dir "$data" --memory_list "$memory" \
    --test_list "$test" --save_dir "$save" "$@" --opts $EXTRA_OPTS
}

# hsg_stages CFG1 CFG2 SNAPSHOT_DIR TRAIN_DATA TRAIN_LIST EVAL_DATA MEMORY_LIST TEST_LIST [readout flags ...]
# The two stages of a recipe, each followed by the read-out of its newest checkpoint: steps TRAIN1, READOUT1,
# TRAIN2 (initialised from stage 1's newest checkpoint, unless STAGE2_FROM_SCRATCH=1), READOUT2.
hsg_stages() {
  local cfg1=$1 cfg2=$2 snap=$3 train_data=$4 train_list=$5 eval_data=$6 memory=$7 test=$8; shift 8
  local s1="$snap/stage1" s2="$snap/stage2" init=()
  if hsg_step TRAIN1; then hsg_train "$cfg1" "$s1" "$train_data" "$train_list"; fi
  if hsg_step READOUT1; then hsg_readout "$cfg1" "$s1/readout" "$eval_data" "$memory" "$test" --snapshot_dir "$s1" "$@"; fi
  if hsg_step TRAIN2; then
    [ "${STAGE2_FROM_SCRATCH:-0}" = 1 ] || init=("network.pretrained=$(hsg_latest "$s1")")
    hsg_train "$cfg2" "$s2" "$train_data" "$train_list" "${init[@]}"
  fi
  if hsg_step READOUT2; then hsg_readout "$cfg2" "$s2/readout" "$eval_data" "$memory" "$test" --snapshot_dir "$s2" "$@"; fi
  hsg_log "done: mIoU in $s1/readout/readout.json and $s2/readout/readout.json"
}

# --- the small-scale studies (bashscripts/mini, bashscripts/camvid): baselines, learning curve, table ---
# READOUTS (an array) names the read-outs every row is scored with.

# hsg_baselines CFG SAVE_DIR DATA MEMORY_LIST TEST_LIST: the untrained network, raw pixels and region colour
# histograms, read out as the model is -> SAVE_DIR/{untrained,raw_pixels,region_histograms}/readout.json
hsg_baselines() {
  local cfg=$1 save=$2 data=$3 memory=$4 test=$5 kind
  hsg_readout "$cfg" "$save/untrained" "$data" "$memory" "$test" --checkpoint untrained --readouts "${READOUTS[@]}"
  for kind in raw_pixels region_histograms; do
    hsg_log "baseline $kind"
    # shellcheck disable=SC2086
    "$PYTHON" "$HSG_ROOT/benchmarks/small_scale/baselines.py" --kind "$kind" --cfg_path "$cfg" --data_dir "$data" \
      --memory_list "$memory" --test_list "$test" --save_dir "$save/$kind" --readouts "${READOUTS[@]}" \
      --opts $EXTRA_OPTS
  done
}

# hsg_curve CFG SAVE_DIR DATA MEMORY_LIST TEST_LIST BASELINES_DIR TITLE RUN...: every checkpoint of the runs
# (stage 2 continuing stage 1) read out, with the baselines flat -> SAVE_DIR/curve.{json,png}
hsg_curve() {
  local cfg=$1 save=$2 data=$3 memory=$4 test=$5 base=$6 title=$7; shift 7
  hsg_readout "$cfg" "$save" "$data" "$memory" "$test" --snapshot_dir "$@" --every_checkpoint \
    --readouts "${READOUTS[@]}" --title "$title" --baseline "untrained network=$base/untrained/readout.json" \
    --baseline "raw pixels=$base/raw_pixels/readout.json" \
    --baseline "region histograms=$base/region_histograms/readout.json"
}

# hsg_table TITLE SAVE_DIR BASELINES_DIR CURVE_DIR STAGE1_RUN STAGE2_RUN [--note LINE ...]: the results table
# of the baselines and both stages' last checkpoints -> SAVE_DIR/results.{md,json}
hsg_table() {
  local title=$1 save=$2 base=$3 curve=$4 s1=$5 s2=$6; shift 6
  local it1 it2
  it1=$(basename "$(hsg_latest "$s1")" .pth); it2=$(basename "$(hsg_latest "$s2")" .pth)
  "$PYTHON" "$HSG_ROOT/benchmarks/small_scale/results_table.py" --title "$title" --save_dir "$save" \
    --row "untrained network=$base/untrained/readout.json" \
    --row "raw pixels (k-means on colour + position)=$base/raw_pixels/readout.json" \
    --row "over-segmentation regions, colour histograms=$base/region_histograms/readout.json" \
    --row "HSG stage 1=$curve/$(basename "$s1")/iter_${it1#model-}/readout.json" \
    --row "HSG stage 2=$curve/$(basename "$s2")/iter_${it2#model-}/readout.json" "$@"
}

# hsg_eval_released CFG CHECKPOINT SAVE_DIR DATA MEMORY_LIST TEST_LIST PAPER_MIOU
# Read out a released checkpoint of the original (read in its own format) with the protocol and the
# label-free read-out, and print its kNN mIoU beside the paper's.
hsg_eval_released() {
  local cfg=$1 ckpt=$2 save=$3 data=$4 memory=$5 test=$6 paper=$7
  if [ ! -f "$ckpt" ]; then
    echo "[launcher] error: CHECKPOINT not found: $ckpt (download it first: docs/usage.md#7-trained-models-of-the-original-authors)" >&2
    exit 1
  fi
  hsg_readout "$cfg" "$save" "$data" "$memory" "$test" --checkpoint "$ckpt" --readouts knn cluster
  "$PYTHON" -c "import json, sys; r = json.load(open(sys.argv[1])); \
print(f'[eval_released] {sys.argv[2]}: kNN vote {r[\"knn\"][\"miou\"]:.2f} mIoU (the paper: {sys.argv[3]}), \
label-free {r[\"cluster\"][\"miou\"]:.2f}')" "$save/readout.json" "$ckpt" "$paper"
}

# hsg_latest SNAPSHOT_DIR: the newest checkpoint of a run (fails if there is none).
hsg_latest() {
  "$PYTHON" -c "import sys; from hsg.models.weights import latest_checkpoint as l; p = l(sys.argv[1]); \
print(p) if p else sys.exit(f'no checkpoint in {sys.argv[1]}')" "$1"
}

# hsg_lists DATASET DATA_DIR SPLIT OUT [make_lists args...]: write a list file unless it exists.
hsg_lists() {
  local dataset=$1 data=$2 split=$3 out=$4; shift 4
  if [ -f "$out" ]; then echo "[lists] keeping $out"; return 0; fi
  "$PYTHON" "$HSG_ROOT/pyenv/make_lists.py" --dataset "$dataset" --data_dir "$data" --split "$split" --out "$out" "$@"
}

# hsg_oversegment DATA_DIR LIST [oversegment args...]: over-segment every image of a list whose mask is missing.
# With NUM_GPUS * NNODES > 1 the list is split over that many processes (torchrun's ranks pick disjoint
# shards; no process group, the work is on the CPU and each process gets its share of the cores).
hsg_oversegment() {
  local data=$1 list=$2; shift 2
  hsg_log "over-segmentation of $list ($((NUM_GPUS * NNODES)) process(es))"
  hsg_python "$HSG_ROOT/pyenv/oversegment.py" --data_dir "$data" --data_list "$list" "$@"
}
