#!/usr/bin/env bash
# Small-scale HSG on real images: trained without labels on BSDS500 train+val and VOC 2012 images (from
# ../shared/data), with over-segmentations made by pyenv/oversegment.py, then scored on held-apart labelled
# VOC images, beside baselines read out the same way in the same run: the untrained network, raw pixels
# (k-means on colour and position) and the over-segmentation's regions described by colour histograms.
# Every checkpoint is read out (learning curve), each with the protocol's kNN vote, 1-NN, the label-free
# read-out and the oracle (see pyenv/readout.py). Writes results.md/json and curve.png/json.
#
#   bash bashscripts/mini/train.sh               # on 2 CPU cores (timings: docs/results.md)
#   SEED=1 bash bashscripts/mini/train.sh        # another seed (run-to-run spread), in outputs/mini/cpu_seed1
#   PROFILE=gpu bash bashscripts/mini/train.sh   # ResNet-50 at the original's resolutions, on a GPU
#
# Steps (each skippable with RUN_<STEP>=0): DATA, OVERSEG, TRAIN1, TRAIN2, BASELINES, CURVE, TABLE.
#
# Environment (defaults in brackets):
#   SHARED        [../shared/data] the read-only data
#   PROFILE       [cpu] cpu: configs/mini_stage{1,2}.yaml; gpu: the COCO configs with fewer iterations
#   SEED          [0] seed of the training runs
#   OUT           [outputs/mini/<PROFILE>, or <PROFILE>_seed<SEED>] everything this run writes
#   NUM_TEST      [100] labelled VOC images held apart for scoring
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  SHARED="${SHARED:-$(cd "$HSG_ROOT/.." && pwd)/shared/data}"
  PROFILE="${PROFILE:-cpu}"
  SEED="${SEED:-0}"
  SUFFIX=""; [ "$SEED" = 0 ] || SUFFIX="_seed$SEED"
  OUT="${OUT:-outputs/mini/$PROFILE$SUFFIX}"
  NUM_TEST="${NUM_TEST:-100}"
  DATA="$OUT/data"
  hsg_require_dir "$SHARED/VOCdevkit/VOC2012/JPEGImages" "the shared VOC images (SHARED=$SHARED)"
  hsg_require_dir "$SHARED/BSDS500/images" "the shared BSDS500 images (SHARED=$SHARED)"
  case "$PROFILE" in
    cpu) CFG1=configs/mini_stage1.yaml; CFG2=configs/mini_stage2.yaml; PROFILE_OPTS="" ;;
    gpu) CFG1=configs/coco_stage1.yaml; CFG2=configs/coco_stage2.yaml
         PROFILE_OPTS="train.snapshot_step=1000 network.use_syncbn=false num_workers=8" ;;
    *) echo "PROFILE must be cpu or gpu, got '$PROFILE'" >&2; exit 2 ;;
  esac
  EXTRA_OPTS="seed=$SEED $PROFILE_OPTS $EXTRA_OPTS"
  STAGE1_OPTS=(); STAGE2_OPTS=()
  if [ "$PROFILE" = gpu ]; then
    STAGE1_OPTS=(train.max_iteration=5000 train.batch_size=32)
    STAGE2_OPTS=(train.max_iteration=1000 train.batch_size=12)
  fi
  READOUTS=(knn nn1 cluster oracle)
  START=$(date +%s)

  if hsg_step DATA; then
    "$PYTHON" benchmarks/small_scale/prepare_mini.py --shared "$SHARED" --save_dir "$DATA" --num_test "$NUM_TEST"
  fi
  if hsg_step OVERSEG; then
    hsg_oversegment "$DATA" "$DATA/train.txt" --max_regions 48
    hsg_oversegment "$DATA" "$DATA/test.txt" --max_regions 48
  fi

  S1="$OUT/stage1"; S2="$OUT/stage2"
  if hsg_step TRAIN1; then
    hsg_train "$CFG1" "$S1" "$DATA" "$DATA/train.txt" "${STAGE1_OPTS[@]}"
  fi
  if hsg_step TRAIN2; then
    hsg_train "$CFG2" "$S2" "$DATA" "$DATA/train.txt" "${STAGE2_OPTS[@]}" "network.pretrained=$(hsg_latest "$S1")"
  fi

  B="$OUT/baselines"
  if hsg_step BASELINES; then hsg_baselines "$CFG2" "$B" "$DATA" "$DATA/memory.txt" "$DATA/test.txt"; fi
  if hsg_step CURVE; then
    hsg_curve "$CFG2" "$OUT/curve" "$DATA" "$DATA/memory.txt" "$DATA/test.txt" "$B" "VOC mini ($PROFILE, seed $SEED)" \
      "$S1" "$S2"
  fi
  if hsg_step TABLE; then
    MINUTES=$(( ($(date +%s) - START) / 60 ))
    hsg_table "HSG at small scale on VOC images ($PROFILE profile, seed $SEED)" "$OUT" "$B" "$OUT/curve" "$S1" "$S2" \
      --note "Trained without labels on $(wc -l < "$DATA/train.txt") images (BSDS500 train+val, VOC 2012 memory part);" \
      --note "memory: $(wc -l < "$DATA/memory.txt") labelled VOC images; scored on $(wc -l < "$DATA/test.txt") held-apart VOC images, 21 classes." \
      --note "Test segments: the k-means clusters of $CFG2 cut by the over-segmentation's regions (test.oversegmentation); the histograms' segments are the regions." \
      --note "Machine: $(nproc) CPU cores$(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | head -n 1 | sed 's/^/, /' || true); this run took ${MINUTES} min (steps skipped with RUN_*=0 not counted)."
  fi
)
