#!/usr/bin/env bash
# HSG trained without labels on VOC 2012 train_aug images, evaluated on VOC 2012 val with the COCO recipe.
#
#   bash bashscripts/voc12/train.sh
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2.
#
# Environment (defaults in brackets):
#   DATAROOT      [data] holds VOCdevkit/VOC2012/{JPEGImages,segcls,ImageSets} (and SBD for train_aug)
#   SNAPSHOT_DIR  [snapshots/voc12/hsg_res50]
#   TRAIN_SPLIT   [train_aug] VOC split trained on (without labels) and labelling the memory
#   OVERSEG_DIR   [rf_0.25_48] over-segmentation folder name under VOC2012/; made when missing
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  cd "$HSG_ROOT"
  DATAROOT="${DATAROOT:-data}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/voc12/hsg_res50}"
  TRAIN_SPLIT="${TRAIN_SPLIT:-train_aug}"
  OVERSEG_DIR="${OVERSEG_DIR:-${SEGINST_DIR:-rf_0.25_48}}"
  LISTS="$SNAPSHOT_DIR/lists"
  VOC="$DATAROOT/VOCdevkit"
  hsg_require_dir "$VOC/VOC2012/JPEGImages" "VOC 2012 images (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists voc12 "$VOC" "$TRAIN_SPLIT" "$LISTS/voc12_train.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists voc12 "$VOC" val "$LISTS/voc12_val.txt"
  fi
  if hsg_step OVERSEG; then
    hsg_oversegment "$VOC" "$LISTS/voc12_train.txt" --max_regions 48
  fi

  S1="$SNAPSHOT_DIR/stage1"; S2="$SNAPSHOT_DIR/stage2"
  if hsg_step TRAIN1; then
    hsg_train configs/coco_stage1.yaml "$S1" "$VOC" "$LISTS/voc12_train.txt"
  fi
  if hsg_step READOUT1; then
    hsg_readout configs/coco_stage1.yaml "$S1/readout" "$VOC" "$LISTS/voc12_train.txt" "$LISTS/voc12_val.txt" \
      --snapshot_dir "$S1" --readouts knn cluster
  fi
  if hsg_step TRAIN2; then
    hsg_train configs/coco_stage2.yaml "$S2" "$VOC" "$LISTS/voc12_train.txt" "network.pretrained=$(hsg_latest "$S1")"
  fi
  if hsg_step READOUT2; then
    hsg_readout configs/coco_stage2.yaml "$S2/readout" "$VOC" "$LISTS/voc12_train.txt" "$LISTS/voc12_val.txt" \
      --snapshot_dir "$S2" --readouts knn cluster
  fi
  hsg_log "done: mIoU in $S1/readout/readout.json and $S2/readout/readout.json"
)
