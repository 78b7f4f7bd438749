#!/usr/bin/env bash
# HSG on MSCOCO train2017 without labels, evaluated on PASCAL VOC 2012 val (the paper's main setting).
#
#   source bashscripts/coco/train.sh        # or: bash bashscripts/coco/train.sh
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2. Defaults are
# the original's hyper-parameters (configs/coco_stage{1,2}.yaml): stage 1 global batch 128 at 224 for 350k
# iterations, stage 2 batch 48 at 448 for 20k, on 8 GPUs. A read-out scores the newest checkpoint of a stage
# on VOC val with the original's protocol (memory of k-means prototypes from MEMORY_SPLIT, kNN vote) and the
# label-free read-out: RUN/readout/readout.json.
#
# Environment (defaults in brackets):
#   DATAROOT      [data] holds MSCOCO/images/train2017 and VOCdevkit/VOC2012/{JPEGImages,segcls}
#   SNAPSHOT_DIR  [snapshots/coco/hsg_res50] checkpoints, logs, results
#   OVERSEG_DIR   [rf_0.25_48] over-segmentation folder name (the original's); made by pyenv/oversegment.py
#                 when missing
#   MEMORY_SPLIT  [train_aug] VOC split labelling the memory (needs SBD; 'train' without it)
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  cd "$HSG_ROOT"
  DATAROOT="${DATAROOT:-data}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/coco/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-${SEGINST_DIR:-rf_0.25_48}}"
  MEMORY_SPLIT="${MEMORY_SPLIT:-train_aug}"
  LISTS="$SNAPSHOT_DIR/lists"
  VOC="$DATAROOT/VOCdevkit"
  hsg_require_dir "$DATAROOT/MSCOCO/images/train2017" "COCO train images (DATAROOT=$DATAROOT)"
  hsg_require_dir "$VOC/VOC2012/JPEGImages" "VOC 2012 images (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists coco "$DATAROOT" train2017 "$LISTS/coco_train.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists voc12 "$VOC" "$MEMORY_SPLIT" "$LISTS/voc12_memory.txt"
    hsg_lists voc12 "$VOC" val "$LISTS/voc12_val.txt"
  fi
  if hsg_step OVERSEG; then
    hsg_oversegment "$DATAROOT" "$LISTS/coco_train.txt" --max_regions 48
  fi

  S1="$SNAPSHOT_DIR/stage1"; S2="$SNAPSHOT_DIR/stage2"
  if hsg_step TRAIN1; then
    hsg_train configs/coco_stage1.yaml "$S1" "$DATAROOT" "$LISTS/coco_train.txt"
  fi
  if hsg_step READOUT1; then
    hsg_readout configs/coco_stage1.yaml "$S1/readout" "$VOC" "$LISTS/voc12_memory.txt" "$LISTS/voc12_val.txt" \
      --snapshot_dir "$S1" --readouts knn cluster
  fi
  if hsg_step TRAIN2; then
    hsg_train configs/coco_stage2.yaml "$S2" "$DATAROOT" "$LISTS/coco_train.txt" "network.pretrained=$(hsg_latest "$S1")"
  fi
  if hsg_step READOUT2; then
    hsg_readout configs/coco_stage2.yaml "$S2/readout" "$VOC" "$LISTS/voc12_memory.txt" "$LISTS/voc12_val.txt" \
      --snapshot_dir "$S2" --readouts knn cluster
  fi
  hsg_log "done: mIoU in $S1/readout/readout.json and $S2/readout/readout.json"
)
