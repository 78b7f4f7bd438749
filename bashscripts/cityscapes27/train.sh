#!/usr/bin/env bash
# HSG on Cityscapes train without labels, read out on Cityscapes-27 val (labelIds 7..33; PiCIE, STEGO, HP):
# the recipe of bashscripts/cityscapes/train.sh, scored on 27 classes instead of the 19 trainIds, with every
# read-out (kNN vote, unsupervised, overclustering, linear probe on the train labels).
#
#   source bashscripts/cityscapes27/train.sh  # or: bash bashscripts/cityscapes27/train.sh
#   CRF=1 bash bashscripts/cityscapes27/train.sh    # each read-out also after the dense CRF
#
# As the Cityscapes launcher, stage 1 is off by default (the original trained one stage from scratch):
# RUN_TRAIN1=1 RUN_READOUT1=1 runs it first. Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1,
# READOUT1, TRAIN2, READOUT2. Presets: configs/cityscapes27_stage{1,2}.yaml. Not yet run end to end.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/Cityscapes] holds leftImg8bit/{train,val} and gtFine/{train,val} with the official
#                 *_gtFine_labelIds.png files (trainId files cannot give the 27 classes)
#   SNAPSHOT_DIR  [snapshots/cityscapes27/hsg_res50]
#   OVERSEG_DIR   [pmi_0.05] over-segmentation folder name under seginst/ (the original's); made when missing
#   CRF           [0] 1: --crf (needs pip install .[crf])
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/Cityscapes}" SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/cityscapes27/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-pmi_0.05}" LISTS="$SNAPSHOT_DIR/lists" CRF_FLAG=()
  [ "${CRF:-0}" = 0 ] || CRF_FLAG=(--crf)
  : "${RUN_TRAIN1:=0}" "${RUN_READOUT1:=0}"
  [ "$RUN_TRAIN1" != 0 ] || STAGE2_FROM_SCRATCH=1
  export RUN_TRAIN1 RUN_READOUT1 STAGE2_FROM_SCRATCH
  hsg_require_dir "$DATAROOT/leftImg8bit/train" "Cityscapes images (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists cityscapes "$DATAROOT" train "$LISTS/cityscapes27_train.txt" --oversegmentation_dir "$OVERSEG_DIR" \
      --cityscapes_classes 27
    hsg_lists cityscapes "$DATAROOT" val "$LISTS/cityscapes27_val.txt" --cityscapes_classes 27
  fi
  if hsg_step OVERSEG; then
    hsg_oversegment "$DATAROOT" "$LISTS/cityscapes27_train.txt" --start_threshold 0.05 --max_regions 1024
  fi
  hsg_stages configs/cityscapes27_stage1.yaml configs/cityscapes27_stage2.yaml "$SNAPSHOT_DIR" "$DATAROOT" \
    "$LISTS/cityscapes27_train.txt" "$DATAROOT" "$LISTS/cityscapes27_train.txt" "$LISTS/cityscapes27_val.txt" \
    --readouts knn cluster overcluster linear "${CRF_FLAG[@]}"
)
