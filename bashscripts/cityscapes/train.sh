#!/usr/bin/env bash
# HSG on Cityscapes train without labels, evaluated on Cityscapes val (19 classes).
#
#   source bashscripts/cityscapes/train.sh  # or: bash bashscripts/cityscapes/train.sh
#
# The original trained Cityscapes in ONE stage from scratch (configs/cityscapes_stage2.yaml: global batch 32
# at 448 for 38k iterations), so stage 1 is off by default: RUN_TRAIN1=1 RUN_PROTO1=1 RUN_INFER1=1 RUN_EVAL1=1
# runs the optional pixel-loss-only stage first (configs/cityscapes_stage1.yaml) and starts stage 2 from it.
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, PROTO1, INFER1, EVAL1, TRAIN2, PROTO2,
# INFER2, EVAL2.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/Cityscapes] holds leftImg8bit/{train,val} and gtFine/{train,val}
#   SNAPSHOT_DIR  [snapshots/cityscapes/hsg_res50]
#   SEGINST_DIR   [pmi_0.05] over-segmentation folder name under seginst/; made when missing
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/Cityscapes}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/cityscapes/hsg_res50}"
  SEGINST_DIR="${SEGINST_DIR:-pmi_0.05}"
  : "${RUN_TRAIN1:=0}" "${RUN_PROTO1:=0}" "${RUN_INFER1:=0}" "${RUN_EVAL1:=0}"
  export RUN_TRAIN1 RUN_PROTO1 RUN_INFER1 RUN_EVAL1
  LISTS="$SNAPSHOT_DIR/lists"

  if hsg_step LISTS; then
    hsg_lists cityscapes "$DATAROOT" train "$LISTS/cityscapes_train.txt" --seginst_dir "$SEGINST_DIR"
    hsg_lists cityscapes "$DATAROOT" val "$LISTS/cityscapes_val.txt"
  fi
  if hsg_step OVERSEG; then
    # The original cut its PMI hierarchy at a fixed 0.05; ours cuts at 0.05 and allows up to 1024 regions.
    hsg_overseg "$DATAROOT" "$LISTS/cityscapes_train.txt" --start_threshold 0.05 --max_regions 1024
  fi

  S1="$SNAPSHOT_DIR/stage1"; S2="$SNAPSHOT_DIR/stage2"
  if hsg_step TRAIN1; then
    hsg_train configs/cityscapes_stage1.yaml "$S1" "$DATAROOT" "$LISTS/cityscapes_train.txt"
  fi
  hsg_readout "$S1" configs/cityscapes_stage1.yaml "$DATAROOT" "$LISTS/cityscapes_train.txt" "$DATAROOT" \
    "$LISTS/cityscapes_val.txt" 12,24 19 1 --class_names cityscapes
  if hsg_step TRAIN2; then
    INIT=()
    if [ "$RUN_TRAIN1" != "0" ]; then
      INIT=("network.pretrained=$(hsg_latest "$S1")")
    fi
    hsg_train configs/cityscapes_stage2.yaml "$S2" "$DATAROOT" "$LISTS/cityscapes_train.txt" "${INIT[@]}"
  fi
  hsg_readout "$S2" configs/cityscapes_stage2.yaml "$DATAROOT" "$LISTS/cityscapes_train.txt" "$DATAROOT" \
    "$LISTS/cityscapes_val.txt" 12,24 19 2 --class_names cityscapes
  hsg_log "done: mIoU in $S2/results/eval.json"
)
