#!/usr/bin/env bash
# HSG on COCO-Stuff-27, the field's benchmark (IIC, PiCIE, STEGO, HP, CAUSE): trained without labels on the
# curated train2017 images, read out on the curated val2017 images (IIC's Coco164kFull_Stuff_Coarse_7.txt)
# with every read-out: the original's kNN vote, the field's unsupervised (k-means into 27 clusters,
# Hungarian-matched) and overclustering read-outs, and the linear probe trained on the curated train labels.
#
#   source bashscripts/cocostuff/train.sh    # or: bash bashscripts/cocostuff/train.sh
#   CRF=1 bash bashscripts/cocostuff/train.sh                       # each read-out also after the dense CRF
#   EXTRA_OPTS="dataset.label_map=cocostuff3 dataset.class_names=cocostuff3 dataset.num_classes=3" \
#     bash bashscripts/cocostuff/train.sh                           # COCO-Stuff-3 (or cocostuff15 with 15)
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2.
# Presets: configs/cocostuff27_stage{1,2}.yaml (the original's COCO recipe; 8 GPUs). Not yet run end to end.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/cocostuff] holds images/{train2017,val2017}, annotations/{train2017,val2017} (COCO-Stuff
#                 164k: stuffthingmaps_trainval2017.zip) and curated/{train2017,val2017}/Coco164kFull_Stuff_Coarse_7.txt
#   SNAPSHOT_DIR  [snapshots/cocostuff27/hsg_res50]
#   OVERSEG_DIR   [oversegmentation] over-segmentation folder under DATAROOT; made when missing
#   TRAIN_SPLIT   [curated_train2017] the training (and memory) images; train2017 for all 118k
#   CRF           [0] 1: --crf (needs pip install .[crf])
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/cocostuff}" SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/cocostuff27/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-oversegmentation}" TRAIN_SPLIT="${TRAIN_SPLIT:-curated_train2017}"
  LISTS="$SNAPSHOT_DIR/lists" CRF_FLAG=()
  [ "${CRF:-0}" = 0 ] || CRF_FLAG=(--crf)
  hsg_require_dir "$DATAROOT/images/train2017" "COCO-Stuff images (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists cocostuff "$DATAROOT" "$TRAIN_SPLIT" "$LISTS/cocostuff_train.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists cocostuff "$DATAROOT" curated_val2017 "$LISTS/cocostuff_val.txt"
  fi
  if hsg_step OVERSEG; then hsg_oversegment "$DATAROOT" "$LISTS/cocostuff_train.txt" --max_regions 48; fi
  hsg_stages configs/cocostuff27_stage1.yaml configs/cocostuff27_stage2.yaml "$SNAPSHOT_DIR" "$DATAROOT" \
    "$LISTS/cocostuff_train.txt" "$DATAROOT" "$LISTS/cocostuff_train.txt" "$LISTS/cocostuff_val.txt" \
    --readouts knn cluster overcluster linear "${CRF_FLAG[@]}"
)
