#!/usr/bin/env bash
# HSG on Potsdam-3 (IIC, STEGO, HP; pixel accuracy is the headline): trained without labels on all the
# field's 200x200 tiles (all.txt), read out on labelled_test with every read-out (kNN vote and linear probe
# on the labelled_train labels; unsupervised and overclustering label-free).
#
#   source bashscripts/potsdam/train.sh     # or: bash bashscripts/potsdam/train.sh
#   CRF=1 bash bashscripts/potsdam/train.sh                       # each read-out also after the dense CRF
#   EXTRA_OPTS="dataset.label_map=auto dataset.class_names=potsdam6 dataset.num_classes=6 dataset.color_map=potsdam" \
#     bash bashscripts/potsdam/train.sh                           # Potsdam-6
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, READOUT1, TRAIN2, READOUT2.
# Presets: configs/potsdam_stage{1,2}.yaml (untuned for the small tiles). Not yet run end to end.
#
# Environment (defaults in brackets):
#   DATAROOT      [data/potsdam] holds imgs/<id>.mat (key img: RGB + IR), gt/<id>.mat (key gt) and
#                 labelled_train.txt, unlabelled_train.txt, labelled_test.txt, all.txt (IIC's preparation,
#                 as STEGO downloads it)
#   SNAPSHOT_DIR  [snapshots/potsdam3/hsg_res50]
#   OVERSEG_DIR   [oversegmentation] over-segmentation folder under DATAROOT; made when missing
#   CRF           [0] 1: --crf (needs pip install .[crf])
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  DATAROOT="${DATAROOT:-data/potsdam}" SNAPSHOT_DIR="${SNAPSHOT_DIR:-snapshots/potsdam3/hsg_res50}"
  OVERSEG_DIR="${OVERSEG_DIR:-oversegmentation}" LISTS="$SNAPSHOT_DIR/lists" CRF_FLAG=()
  [ "${CRF:-0}" = 0 ] || CRF_FLAG=(--crf)
  hsg_require_dir "$DATAROOT/imgs" "Potsdam tiles (DATAROOT=$DATAROOT)"

  if hsg_step LISTS; then
    hsg_lists potsdam "$DATAROOT" all "$LISTS/potsdam_all.txt" --oversegmentation_dir "$OVERSEG_DIR"
    hsg_lists potsdam "$DATAROOT" labelled_train "$LISTS/potsdam_memory.txt"
    hsg_lists potsdam "$DATAROOT" labelled_test "$LISTS/potsdam_test.txt"
  fi
  if hsg_step OVERSEG; then hsg_oversegment "$DATAROOT" "$LISTS/potsdam_all.txt" --max_regions 48; fi
  hsg_stages configs/potsdam_stage1.yaml configs/potsdam_stage2.yaml "$SNAPSHOT_DIR" "$DATAROOT" \
    "$LISTS/potsdam_all.txt" "$DATAROOT" "$LISTS/potsdam_memory.txt" "$LISTS/potsdam_test.txt" \
    --readouts knn cluster overcluster linear "${CRF_FLAG[@]}"
)
