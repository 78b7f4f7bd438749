#!/usr/bin/env bash
# Small-scale HSG on CamVid driving scenes (11 classes, void 11): trained without labels on the train images,
# memory from the train labels, scored on the val split (or any split: EVAL_LIST), beside baselines read out
# the same way in the same run (the untrained network, raw pixels, region colour histograms). Every
# checkpoint of both stages is read out with the protocol's kNN vote and the label-free read-out (k-means
# of the scored images into 11 clusters, Hungarian-matched): curve.png/json, results.md/json.
#
#   bash bashscripts/camvid/train.sh                 # on 2 CPU cores (timings: docs/results.md)
#   SEED=1 bash bashscripts/camvid/train.sh          # another seed (run-to-run spread)
#   EVAL_LIST=/data/CamVid/test.txt bash bashscripts/camvid/train.sh   # score another split (e.g. the test split)
#   PROFILE=gpu bash bashscripts/camvid/train.sh     # ResNet-50 at the paper's width, on one GPU
#
# Steps (each skippable with RUN_<STEP>=0): LISTS, OVERSEG, TRAIN1, TRAIN2, BASELINES, CURVE, TABLE.
#
# Environment (defaults in brackets):
#   CAMVID        [../shared/data/CamVid] holds train/, trainannot/, val/, valannot/ (the SegNet layout)
#   EVAL_LIST     [the val split] list file of the images to score, 'image label' a line
#   EVAL_DIR      [CAMVID] root of EVAL_LIST's paths
#   PROFILE       [cpu] cpu: configs/camvid_stage{1,2}.yaml; gpu: the same at ResNet-50 width 64, dim 128
#   SEED          [0] seed of the training runs
#   OVERSEG_OPTS  [--max_regions 96] options of pyenv/oversegment.py (the training segments, and the cut of the
#                 test segments), e.g. "--max_regions 192 --min_region 0.001" for finer regions
#   OUT           [outputs/camvid/<PROFILE>, or <PROFILE>_seed<SEED>] everything this run writes
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  CAMVID="${CAMVID:-$(cd "$HSG_ROOT/.." && pwd)/shared/data/CamVid}"
  hsg_require_dir "$CAMVID/train" "CamVid train images (CAMVID=$CAMVID)"
  CAMVID="$(cd "$CAMVID" && pwd)"
  PROFILE="${PROFILE:-cpu}" SEED="${SEED:-0}" OVERSEG_OPTS="${OVERSEG_OPTS:---max_regions 96}"
  SUFFIX=""; [ "$SEED" = 0 ] || SUFFIX="_seed$SEED"
  OUT="${OUT:-outputs/camvid/$PROFILE$SUFFIX}"
  mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)"
  EVAL_DIR="${EVAL_DIR:-$CAMVID}" EVAL_LIST="${EVAL_LIST:-$OUT/lists/val.txt}"
  case "$PROFILE" in
    cpu) ;;
    gpu) EXTRA_OPTS="network.backbone_depth=50 network.backbone_width=64 network.embedding_dim=128 num_workers=8 \
$EXTRA_OPTS" ;;
    *) echo "[launcher] error: PROFILE must be cpu or gpu, got '$PROFILE'" >&2; exit 1 ;;
  esac
  EXTRA_OPTS="seed=$SEED $EXTRA_OPTS"
  READOUTS=(knn cluster)
  LISTS="$OUT/lists" S1="$OUT/stage1" S2="$OUT/stage2" B="$OUT/baselines"
  START=$(date +%s)

  if hsg_step LISTS; then
    hsg_lists camvid "$CAMVID" train "$LISTS/train.txt" --oversegmentation_dir "$OUT/oversegmentation"
    hsg_lists camvid "$CAMVID" val "$LISTS/val.txt" --oversegmentation_dir "$OUT/oversegmentation"
    if [ "$EVAL_LIST" != "$LISTS/val.txt" ]; then  # the region-histogram baseline needs column 3
      "$PYTHON" -c "import sys; from hsg.data.lists import read_list, write_list; from pathlib import Path; \
rows = [(s.image, s.semantic_label or '-', str(Path(sys.argv[3]) / 'eval' / (s.name + '.png'))) \
for s in read_list(sys.argv[1], sys.argv[2], require=('image', 'semantic_label'))]; write_list(sys.argv[4], rows)" \
        "$EVAL_LIST" "$EVAL_DIR" "$OUT/oversegmentation" "$LISTS/eval.txt"
      EVAL_LIST="$LISTS/eval.txt"
    fi
  fi
  [ "$EVAL_LIST" = "$LISTS/val.txt" ] || EVAL_LIST="$LISTS/eval.txt"
  if hsg_step OVERSEG; then
    for list in "$LISTS/train.txt" "$EVAL_LIST"; do
      # shellcheck disable=SC2086  # OVERSEG_OPTS is a list of options
      hsg_oversegment "$CAMVID" "$list" $OVERSEG_OPTS
    done
  fi
  if hsg_step TRAIN1; then hsg_train configs/camvid_stage1.yaml "$S1" "$CAMVID" "$LISTS/train.txt"; fi
  if hsg_step TRAIN2; then
    hsg_train configs/camvid_stage2.yaml "$S2" "$CAMVID" "$LISTS/train.txt" "network.pretrained=$(hsg_latest "$S1")"
  fi
  # The lists are relative to CAMVID; a list of another split was rewritten with absolute paths above.
  if hsg_step BASELINES; then hsg_baselines configs/camvid_stage2.yaml "$B" "$CAMVID" "$LISTS/train.txt" "$EVAL_LIST"; fi
  if hsg_step CURVE; then
    hsg_curve configs/camvid_stage2.yaml "$OUT/curve" "$CAMVID" "$LISTS/train.txt" "$EVAL_LIST" "$B" \
      "CamVid ($PROFILE, seed $SEED)" "$S1" "$S2"
  fi
  if hsg_step TABLE; then
    MINUTES=$(( ($(date +%s) - START) / 60 ))
    hsg_table "HSG at small scale on CamVid ($PROFILE profile, seed $SEED)" "$OUT" "$B" "$OUT/curve" "$S1" "$S2" \
      --note "Trained without labels on $(wc -l < "$LISTS/train.txt") CamVid train images; memory: their labels; scored on $(wc -l < "$EVAL_LIST") images of $EVAL_LIST, 11 classes (void 11 not scored)." \
      --note "Test segments: the k-means clusters of configs/camvid_stage2.yaml cut by the over-segmentation's regions (test.oversegmentation); the histograms' segments are the regions." \
      --note "Machine: $(nproc) CPU cores$(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | head -n 1 | sed 's/^/, /' || true); this run took ${MINUTES} min (steps skipped with RUN_*=0 not counted)."
  fi
)
