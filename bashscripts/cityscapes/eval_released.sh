#!/usr/bin/env bash
# Score the released HSG Cityscapes model of the original authors on Cityscapes val with our read-out (the
# original's protocol with a memory from the train split, and the label-free read-out). The paper: 32.4 mIoU.
#
#   CHECKPOINT=hsg_cityscapes.pth bash bashscripts/cityscapes/eval_released.sh
#
# Environment (defaults in brackets):
#   CHECKPOINT    the downloaded .pth (the original's format is read as it is)
#   DATAROOT      [data/Cityscapes] holds leftImg8bit/{train,val} and gtFine/{train,val} (or the original's gtFineId)
#   SAVE_DIR      [outputs/released/<checkpoint name>]
#   PAPER         [32.4] the paper's mIoU, printed beside ours
#   PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  CHECKPOINT="${CHECKPOINT:?set CHECKPOINT to the downloaded .pth}" DATAROOT="${DATAROOT:-data/Cityscapes}"
  PAPER="${PAPER:-32.4}" SAVE_DIR="${SAVE_DIR:-outputs/released/$(basename "$CHECKPOINT" .pth)}"
  hsg_require_dir "$DATAROOT/leftImg8bit/val" "Cityscapes images (DATAROOT=$DATAROOT)"
  hsg_lists cityscapes "$DATAROOT" train "$SAVE_DIR/lists/cityscapes_train.txt"
  hsg_lists cityscapes "$DATAROOT" val "$SAVE_DIR/lists/cityscapes_val.txt"
  hsg_eval_released configs/cityscapes_stage2.yaml "$CHECKPOINT" "$SAVE_DIR" "$DATAROOT" \
    "$SAVE_DIR/lists/cityscapes_train.txt" "$SAVE_DIR/lists/cityscapes_val.txt" "$PAPER"
)
