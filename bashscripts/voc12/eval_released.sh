#!/usr/bin/env bash
# Score a released HSG model of the original authors (trained on MSCOCO) on PASCAL VOC 2012 val with our
# read-out: the original's protocol (labelled memory from MEMORY_SPLIT, kNN vote) and the label-free one.
# The paper reports 42.2 mIoU for the stage-1 batch 128 model and 43.7 for batch 192 (docs/usage.md#7-trained-models-of-the-original-authors).
#
#   CHECKPOINT=hsg_coco_192.pth PAPER=43.7 bash bashscripts/voc12/eval_released.sh
#
# Environment (defaults in brackets):
#   CHECKPOINT    the downloaded .pth (the original's format is read as it is)
#   DATAROOT      [data] holds VOCdevkit/VOC2012/{JPEGImages,segcls,ImageSets} (and SBD for train_aug)
#   MEMORY_SPLIT  [train_aug] VOC split labelling the memory ('train' without SBD)
#   SAVE_DIR      [outputs/released/<checkpoint name>]
#   PAPER         [43.7] the paper's mIoU for this model, printed beside ours
#   PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  CHECKPOINT="${CHECKPOINT:?set CHECKPOINT to the downloaded .pth}" DATAROOT="${DATAROOT:-data}"
  MEMORY_SPLIT="${MEMORY_SPLIT:-train_aug}" PAPER="${PAPER:-43.7}"
  SAVE_DIR="${SAVE_DIR:-outputs/released/$(basename "$CHECKPOINT" .pth)}" VOC="$DATAROOT/VOCdevkit"
  hsg_require_dir "$VOC/VOC2012/JPEGImages" "VOC 2012 images (DATAROOT=$DATAROOT)"
  hsg_lists voc12 "$VOC" "$MEMORY_SPLIT" "$SAVE_DIR/lists/voc12_memory.txt"
  hsg_lists voc12 "$VOC" val "$SAVE_DIR/lists/voc12_val.txt"
  hsg_eval_released configs/coco_stage2.yaml "$CHECKPOINT" "$SAVE_DIR" "$VOC" "$SAVE_DIR/lists/voc12_memory.txt" \
    "$SAVE_DIR/lists/voc12_val.txt" "$PAPER"
)
