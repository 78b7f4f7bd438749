#!/usr/bin/env bash
# HSG trained without labels on the PASCAL VOC 2012 train_aug images, evaluated on VOC 2012 val.
# Same recipe as the COCO launcher (configs/coco_stage{1,2}.yaml) on VOC's own images.
#
#   source bashscripts/voc12/train.sh       # or: bash bashscripts/voc12/train.sh
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, PROTO1, INFER1, EVAL1, TRAIN2, PROTO2,
# INFER2, EVAL2.
#
# Environment (defaults in brackets):
#   DATAROOT      [data] holds VOCdevkit/VOC2012/{JPEGImages,segcls} (and SBD for train_aug)
#   SNAPSHOT_DIR  [snapshots/voc12/hsg_res50]
#   TRAIN_SPLIT   [train_aug] images trained on (and labelling the memory); 'train' without SBD
#   SEGINST_DIR   [rf_0.25_48] over-segmentation folder name; made by pyenv/oversegment.py when missing
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/voc12/hsg_res50}"
  TRAIN_SPLIT="${TRAIN_SPLIT:-train_aug}"
  SEGINST_DIR="${SEGINST_DIR:-rf_0.25_48}"
  LISTS="$SNAPSHOT_DIR/lists"
  VOC="$DATAROOT/VOCdevkit"

  if hsg_step LISTS; then
    hsg_lists voc12 "$VOC" "$TRAIN_SPLIT" "$LISTS/voc12_train.txt" --seginst_dir "$SEGINST_DIR"
    hsg_lists voc12 "$VOC" val "$LISTS/voc12_val.txt"
  fi
  if hsg_step OVERSEG; then
    hsg_overseg "$VOC" "$LISTS/voc12_train.txt" --max_regions 48
  fi

  S1="$SNAPSHOT_DIR/stage1"; S2="$SNAPSHOT_DIR/stage2"
  OPTS=(dataset.dataset=voc12)
  if hsg_step TRAIN1; then
    hsg_train configs/coco_stage1.yaml "$S1" "$VOC" "$LISTS/voc12_train.txt" "${OPTS[@]}"
  fi
  hsg_readout "$S1" configs/coco_stage1.yaml "$VOC" "$LISTS/voc12_train.txt" "$VOC" "$LISTS/voc12_val.txt" \
    6,6 21 1 --class_names voc
  if hsg_step TRAIN2; then
    STAGE1_FINAL=$(hsg_latest "$S1")
    hsg_train configs/coco_stage2.yaml "$S2" "$VOC" "$LISTS/voc12_train.txt" "${OPTS[@]}" \
      "network.pretrained=$STAGE1_FINAL"
  fi
  hsg_readout "$S2" configs/coco_stage2.yaml "$VOC" "$LISTS/voc12_train.txt" "$VOC" "$LISTS/voc12_val.txt" \
    6,6 21 2 --class_names voc
  hsg_log "done: mIoU in $S1/results/eval.json and $S2/results/eval.json"
)
