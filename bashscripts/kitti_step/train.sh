#!/usr/bin/env bash
# HSG on KITTI-STEP (the paper's fifth benchmark): trained without labels on the train frames, read out on
# the val frames with the 19 Cityscapes classes of the panoptic maps' R channel, with every read-out (kNN
# vote and linear probe on the train labels; unsupervised and overclustering label-free).
#
#   source bashscripts/kitti_step/train.sh   # or: bash bashscripts/kitti_step/train.sh
#   CRF=1 bash bashscripts/kitti_step/train.sh    # each read-out also after the dense CRF
#
# As the Cityscapes launcher, stage 1 is off by default: RUN_TRAIN1=1 RUN_READOUT1=1 runs it first. Steps (each
# skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2.
# Presets: configs/kitti_step_stage{1,2}.yaml (Cityscapes' recipe, untuned for KITTI). Not yet run end to end.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/kitti-step] holds images/{train,val}/<sequence>/<frame>.png and
#                 panoptic_maps/{train,val}/<sequence>/<frame>.png (deeplab2's KITTI-STEP layout)
#   SNAPSHOT_DIR  [snapshots/kitti_step/hsg_res50]
#   OVERSEG_DIR   [oversegmentation] over-segmentation folder under DATAROOT; made when missing
#   CRF           [0] 1: --crf (needs pip install .[crf])
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/kitti-step}" SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/kitti_step/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-oversegmentation}" LISTS="$SNAPSHOT_DIR/lists" CRF_FLAG=()
  [ "${CRF:-0}" = 0 ] || CRF_FLAG=(--crf)
  : "${RUN_TRAIN1:=0}" "${RUN_READOUT1:=0}"
  [ "$RUN_TRAIN1" != 0 ] || STAGE2_FROM_SCRATCH=1
  export RUN_TRAIN1 RUN_READOUT1 STAGE2_FROM_SCRATCH
  hsg_require_dir "$DATAROOT/images/train" "KITTI-STEP frames (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists kitti_step "$DATAROOT" train "$LISTS/kitti_step_train.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists kitti_step "$DATAROOT" val "$LISTS/kitti_step_val.txt"
  fi
  if hsg_step OVERSEG; then hsg_oversegment "$DATAROOT" "$LISTS/kitti_step_train.txt" --max_regions 512; fi
  hsg_stages configs/kitti_step_stage1.yaml configs/kitti_step_stage2.yaml "$SNAPSHOT_DIR" "$DATAROOT" \
    "$LISTS/kitti_step_train.txt" "$DATAROOT" "$LISTS/kitti_step_train.txt" "$LISTS/kitti_step_val.txt" \
    --readouts knn cluster overcluster linear "${CRF_FLAG[@]}"
)
