#!/usr/bin/env bash
# HSG on MSCOCO train2017 without labels, evaluated on PASCAL VOC 2012 val (the paper's main setting).
#
#   source bashscripts/coco/train.sh        # or: bash bashscripts/coco/train.sh
#   TRAIN_IMAGES=voc12 bash bashscripts/coco/train.sh   # the same recipe on VOC train_aug images
#                                                       # (what bashscripts/voc12/train.sh runs)
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2. Defaults are
# the original's hyper-parameters (configs/coco_stage{1,2}.yaml): stage 1 global batch 128 at 224 for 350k
# iterations, stage 2 batch 48 at 448 for 20k, on 8 GPUs. A read-out scores the newest checkpoint of a stage
# on VOC val with the original's protocol (memory of k-means prototypes from MEMORY_SPLIT, kNN vote) and the
# label-free read-out: SNAPSHOT_DIR/stage<N>/readout/readout.json.
#
# Environment (defaults in brackets):
#   DATAROOT      [data] holds MSCOCO/images/train2017 and VOCdevkit/VOC2012/{JPEGImages,segcls}
#   SNAPSHOT_DIR  [snapshots/coco/hsg_res50] checkpoints, logs, results
#   OVERSEG_DIR   [rf_0.25_48] over-segmentation folder name (the original's); made by pyenv/oversegment.py
#                 when missing
#   MEMORY_SPLIT  [train_aug] VOC split labelling the memory (needs SBD; 'train' without it)
#   TRAIN_IMAGES  [coco] coco: MSCOCO train2017; voc12: the VOC MEMORY_SPLIT images themselves
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  TRAIN_IMAGES="${TRAIN_IMAGES:-coco}" DATAROOT="${DATAROOT:-data}" MEMORY_SPLIT="${MEMORY_SPLIT:-train_aug}"
  SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/$TRAIN_IMAGES/hsg_res50}" OVERSEG_DIR="${OVERSEG_DIR:-rf_0.25_48}"
  LISTS="$SNAPSHOT_DIR/lists" VOC="$DATAROOT/VOCdevkit"
  hsg_require_dir "$VOC/VOC2012/JPEGImages" "VOC 2012 images (DATAROOT=$DATAROOT)"
  case "$TRAIN_IMAGES" in
    coco) hsg_require_dir "$DATAROOT/MSCOCO/images/train2017" "COCO train images (DATAROOT=$DATAROOT)"
          TRAIN_DATA="$DATAROOT" TRAIN_LIST="$LISTS/coco_train.txt" ;;
    voc12) TRAIN_DATA="$VOC" TRAIN_LIST="$LISTS/voc12_memory.txt" ;;
    *) echo "[launcher] error: TRAIN_IMAGES must be coco or voc12, got '$TRAIN_IMAGES'" >&2; exit 1 ;;
  esac

  if hsg_step LISTS; then
    [ "$TRAIN_IMAGES" = voc12 ] || hsg_lists coco "$DATAROOT" train2017 "$TRAIN_LIST" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists voc12 "$VOC" "$MEMORY_SPLIT" "$LISTS/voc12_memory.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists voc12 "$VOC" val "$LISTS/voc12_val.txt"
  fi
  if hsg_step OVERSEG; then hsg_oversegment "$TRAIN_DATA" "$TRAIN_LIST" --max_regions 48; fi
  hsg_stages configs/coco_stage1.yaml configs/coco_stage2.yaml "$SNAPSHOT_DIR" "$TRAIN_DATA" "$TRAIN_LIST" \
    "$VOC" "$LISTS/voc12_memory.txt" "$LISTS/voc12_val.txt" --readouts knn cluster
)
