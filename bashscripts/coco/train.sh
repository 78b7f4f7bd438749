#!/usr/bin/env bash
# HSG on MSCOCO train2017 without labels, evaluated on PASCAL VOC 2012 val (the paper's main setting).
#
#   source bashscripts/coco/train.sh        # or: bash bashscripts/coco/train.sh
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, PROTO1, INFER1, EVAL1, TRAIN2, PROTO2,
# INFER2, EVAL2. Defaults are the original's hyper-parameters (configs/coco_stage{1,2}.yaml): stage 1 global
# batch 128 at 224 for 350k iterations, stage 2 batch 48 at 448 for 20k, on 8 GPUs.
#
# Environment (defaults in brackets):
#   DATAROOT      [data] holds MSCOCO/images/train2017 and VOCdevkit/VOC2012/{JPEGImages,segcls}
#   SNAPSHOT_DIR  [snapshots/coco/hsg_res50] checkpoints, logs, results
#   SEGINST_DIR   [rf_0.25_48] over-segmentation folder name; made by pyenv/oversegment.py when missing
#   MEMORY_SPLIT  [train_aug] VOC split labelling the memory (needs SBD; 'train' without it)
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/coco/hsg_res50}"
  SEGINST_DIR="${SEGINST_DIR:-rf_0.25_48}"
  MEMORY_SPLIT="${MEMORY_SPLIT:-train_aug}"
  LISTS="$SNAPSHOT_DIR/lists"
  VOC="$DATAROOT/VOCdevkit"

  if hsg_step LISTS; then
    hsg_lists coco "$DATAROOT" train2017 "$LISTS/coco_train.txt" --seginst_dir "$SEGINST_DIR"
    hsg_lists voc12 "$VOC" "$MEMORY_SPLIT" "$LISTS/voc12_memory.txt"
    hsg_lists voc12 "$VOC" val "$LISTS/voc12_val.txt"
  fi
  if hsg_step OVERSEG; then
    hsg_overseg "$DATAROOT" "$LISTS/coco_train.txt" --max_regions 48
  fi

  S1="$SNAPSHOT_DIR/stage1"; S2="$SNAPSHOT_DIR/stage2"
  if hsg_step TRAIN1; then
    hsg_train configs/coco_stage1.yaml "$S1" "$DATAROOT" "$LISTS/coco_train.txt"
  fi
  hsg_readout "$S1" configs/coco_stage1.yaml "$VOC" "$LISTS/voc12_memory.txt" "$VOC" "$LISTS/voc12_val.txt" \
    6,6 21 1 --class_names voc

  if hsg_step TRAIN2; then
    STAGE1_FINAL=$(hsg_latest "$S1")
    hsg_train configs/coco_stage2.yaml "$S2" "$DATAROOT" "$LISTS/coco_train.txt" "network.pretrained=$STAGE1_FINAL"
  fi
  hsg_readout "$S2" configs/coco_stage2.yaml "$VOC" "$LISTS/voc12_memory.txt" "$VOC" "$LISTS/voc12_val.txt" \
    6,6 21 2 --class_names voc
  hsg_log "done: mIoU in $S1/results/eval.json and $S2/results/eval.json"
)
