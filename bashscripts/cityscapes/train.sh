#!/usr/bin/env bash
# HSG on Cityscapes train without labels, evaluated on Cityscapes val (19 classes).
#
#   source bashscripts/cityscapes/train.sh  # or: bash bashscripts/cityscapes/train.sh
#
# The original trained Cityscapes in ONE stage from scratch (configs/cityscapes_stage2.yaml: global batch 32
# at 448 for 38k iterations), so stage 1 is off by default: RUN_TRAIN1=1 RUN_READOUT1=1 runs the optional
# pixel-loss-only stage first (configs/cityscapes_stage1.yaml) and starts stage 2 from it.
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/Cityscapes] holds leftImg8bit/{train,val} and gtFine/{train,val}
#   SNAPSHOT_DIR  [snapshots/cityscapes/hsg_res50]
#   OVERSEG_DIR   [pmi_0.05] over-segmentation folder name under seginst/ (the original's); made when missing
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/Cityscapes}" SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/cityscapes/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-pmi_0.05}" LISTS="$SNAPSHOT_DIR/lists"
  : "${RUN_TRAIN1:=0}" "${RUN_READOUT1:=0}"
  [ "$RUN_TRAIN1" != 0 ] || STAGE2_FROM_SCRATCH=1
  export RUN_TRAIN1 RUN_READOUT1 STAGE2_FROM_SCRATCH
  hsg_require_dir "$DATAROOT/leftImg8bit/train" "Cityscapes images (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists cityscapes "$DATAROOT" train "$LISTS/cityscapes_train.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists cityscapes "$DATAROOT" val "$LISTS/cityscapes_val.txt"
  fi
  if hsg_step OVERSEG; then
    # The original cut its PMI hierarchy at a fixed 0.05; ours cuts at 0.05 and allows up to 1024 regions.
    hsg_oversegment "$DATAROOT" "$LISTS/cityscapes_train.txt" --start_threshold 0.05 --max_regions 1024
  fi
  hsg_stages configs/cityscapes_stage1.yaml configs/cityscapes_stage2.yaml "$SNAPSHOT_DIR" "$DATAROOT" \
    "$LISTS/cityscapes_train.txt" "$DATAROOT" "$LISTS/cityscapes_train.txt" "$LISTS/cityscapes_val.txt" \
    --readouts knn cluster
)
