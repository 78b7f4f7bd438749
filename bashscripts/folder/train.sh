#!/usr/bin/env bash
# HSG on a folder of your own photos, no labels: list the photos, over-segment them, train stage 1 and
# stage 2, and draw the segment hierarchy of some of them.
#
#   IMAGES=~/photos bash bashscripts/folder/train.sh                  # one GPU (configs/folder_stage{1,2}.yaml)
#   IMAGES=~/photos PROFILE=cpu bash bashscripts/folder/train.sh      # a thin network that a CPU can train
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, TRAIN2, PICTURES. Nothing is written
# into the photo folder: lists, over-segmentations, runs and pictures all go to OUT.
#
# Environment (defaults in brackets):
#   IMAGES        the folder of photos (searched recursively; required)
#   OUT           [outputs/folder/<name of IMAGES>] everything this run writes
#   PROFILE       [gpu] gpu: the presets as they are; cpu: the thin network of the mini presets
#   PICTURES      [16] how many photos get hierarchy pictures
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  IMAGES="${IMAGES:?set IMAGES to a folder of photos}"
  hsg_require_dir "$IMAGES" "IMAGES"
  IMAGES="$(cd "$IMAGES" && pwd)"
  OUT="${OUT:-outputs/folder/$(basename "$IMAGES")}" PROFILE="${PROFILE:-gpu}" PICTURES="${PICTURES:-16}"
  mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"
  case "$PROFILE" in
    gpu) ;;
    cpu) EXTRA_OPTS="network.backbone_depth=18 network.backbone_width=16 network.embedding_dim=32 \
network.output_stride=8 network.test_output_stride=8 train.batch_size=16 train.crop_size=[112,112] \
test.image_size=224 test.crop_size=[224,224] test.stride=[224,224] num_workers=0 $EXTRA_OPTS"
         STAGE_OPTS=(train.max_iteration=4000 train.snapshot_step=1000 train.base_lr=0.05)
         STAGE2_OPTS=(train.max_iteration=600 train.snapshot_step=600 train.base_lr=0.01 network.kmeans_num_clusters=[2,2]) ;;
    *) echo "[launcher] error: PROFILE must be gpu or cpu, got '$PROFILE'" >&2; exit 1 ;;
  esac
  LIST="$OUT/lists/photos.txt" S1="$OUT/stage1" S2="$OUT/stage2"

  if hsg_step LISTS; then
    hsg_lists folder "$IMAGES" - "$LIST" --oversegmentation_dir "$OUT/oversegmentation"
  fi
  if hsg_step OVERSEG; then hsg_oversegment "$IMAGES" "$LIST" --max_regions 48; fi
  if hsg_step TRAIN1; then hsg_train configs/folder_stage1.yaml "$S1" "$IMAGES" "$LIST" ${STAGE_OPTS[@]+"${STAGE_OPTS[@]}"}; fi
  if hsg_step TRAIN2; then
    hsg_train configs/folder_stage2.yaml "$S2" "$IMAGES" "$LIST" ${STAGE2_OPTS[@]+"${STAGE2_OPTS[@]}"} \
      "network.pretrained=$(hsg_latest "$S1")"
  fi
  if hsg_step PICTURES; then
    hsg_log "hierarchy pictures of $PICTURES photos -> $OUT/pictures"
    head -n "$PICTURES" "$LIST" > "$OUT/lists/pictures.txt"
    # shellcheck disable=SC2086
    "$PYTHON" "$HSG_ROOT/pyenv/hierarchy.py" --cfg_path configs/folder_stage2.yaml --snapshot_dir "$S2" \
      --data_dir "$IMAGES" --data_list "$OUT/lists/pictures.txt" --with_oversegmentation --save_dir "$OUT/pictures" \
      --opts $EXTRA_OPTS ${STAGE2_OPTS[@]+"${STAGE2_OPTS[@]}"}
  fi
  hsg_log "done: model $S2, pictures $OUT/pictures/hierarchy/figure"
)
