#!/usr/bin/env bash
# Small-scale HSG on real images: trains without labels on BSDS500 train+val and VOC 2012 images (from
# ../shared/data), with over-segmentations made by pyenv/oversegment.py, then scores on held-apart labelled
# VOC images with the original's protocol (labelled memory + kNN read-out), beside baselines read out the
# same way in the same run: the untrained network, raw pixels (k-means on colour and position) and
# over-segmentation regions labelled by their colour histograms. For every row it also scores the
# "oracle" read-out (each test segment labelled with its own majority ground truth), which separates how
# well a representation groups pixels from how well the kNN vote can name the groups, and the 1-NN read-out
# (each test segment takes the label of its nearest memory prototype), which shows whether the embeddings
# retrieve the right class when the 20-vote majority drowns it in background. Writes results.json and
# results.md.
#
#   bash bashscripts/mini/train.sh          # about 30-40 minutes on 2 CPU cores
#   PROFILE=gpu bash bashscripts/mini/train.sh   # ResNet-50 at the original's resolutions, on a GPU
#
# Steps (each skippable with RUN_<STEP>=0): DATA, OVERSEG, TRAIN1, PROTO1, INFER1, EVAL1, TRAIN2, PROTO2,
# INFER2, EVAL2, BASELINES, ORACLE, NN1, TABLE.
#
# Environment (defaults in brackets):
#   SHARED        [../shared/data] the read-only data
#   OUT           [outputs/mini/<PROFILE>] everything this run writes
#   PROFILE       [cpu] cpu: configs/mini_stage{1,2}.yaml; gpu: the COCO configs with fewer iterations
#   NUM_TEST      [100] labelled VOC images held apart for scoring
#   NUM_GPUS, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, PYTHON, EXTRA_OPTS: see bashscripts/lib.sh
(
  set -euo pipefail
  source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
  cd "$HSG_ROOT"
  SHARED="${SHARED:-$(cd "$HSG_ROOT/.." && pwd)/shared/data}"
  PROFILE="${PROFILE:-cpu}"
  OUT="${OUT:-outputs/mini/$PROFILE}"
  NUM_TEST="${NUM_TEST:-100}"
  DATA="$OUT/data"
  case "$PROFILE" in
    cpu) CFG1=configs/mini_stage1.yaml; CFG2=configs/mini_stage2.yaml; PROFILE_OPTS=() ;;
    gpu) CFG1=configs/coco_stage1.yaml; CFG2=configs/coco_stage2.yaml
         PROFILE_OPTS=(dataset.dataset=folder train.max_iteration=5000 train.snapshot_step=1000 train.batch_size=32
                       network.use_syncbn=false num_threads=8) ;;
    *) echo "PROFILE must be cpu or gpu, got '$PROFILE'" >&2; exit 2 ;;
  esac
  STAGE2_OPTS=()
  [ "$PROFILE" = gpu ] && STAGE2_OPTS=(train.max_iteration=1000 train.snapshot_step=1000 train.batch_size=12)
  START=$(date +%s)

  if hsg_step DATA; then
    "$PYTHON" pyenv/mini_data.py --shared "$SHARED" --out "$DATA" --num_test "$NUM_TEST"
  fi
  if hsg_step OVERSEG; then
    hsg_overseg "$DATA" "$DATA/train.txt" --max_regions 48
    hsg_overseg "$DATA" "$DATA/test.txt" --max_regions 48
  fi

  S1="$OUT/stage1"; S2="$OUT/stage2"; U="$OUT/untrained"
  if hsg_step TRAIN1; then
    hsg_train "$CFG1" "$S1" "$DATA" "$DATA/train.txt" "${PROFILE_OPTS[@]}"
  fi
  EXTRA_OPTS="$EXTRA_OPTS ${PROFILE_OPTS[*]}" hsg_readout "$S1" "$CFG1" "$DATA" "$DATA/memory.txt" "$DATA" \
    "$DATA/test.txt" 6,6 21 1 --class_names voc
  if hsg_step TRAIN2; then
    hsg_train "$CFG2" "$S2" "$DATA" "$DATA/train.txt" "${PROFILE_OPTS[@]}" "${STAGE2_OPTS[@]}" \
      "network.pretrained=$(hsg_latest "$S1")"
  fi
  EXTRA_OPTS="$EXTRA_OPTS ${PROFILE_OPTS[*]}" hsg_readout "$S2" "$CFG2" "$DATA" "$DATA/memory.txt" "$DATA" \
    "$DATA/test.txt" 6,6 21 2 --class_names voc

  if hsg_step BASELINES; then
    hsg_log "baselines: untrained network, raw pixels, region colour histograms"
    mkdir -p "$U"
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/prototype.py --cfg_path "$CFG2" --checkpoint untrained --data_dir "$DATA" \
      --data_list "$DATA/memory.txt" --save_dir "$U/results/memory" --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/inference.py --cfg_path "$CFG2" --checkpoint untrained --data_dir "$DATA" \
      --data_list "$DATA/test.txt" --save_dir "$U/results/test" \
      --semantic_memory_dir "$U/results/memory/semantic_prototype" --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    for kind in raw_pixels region_histograms; do
      # shellcheck disable=SC2086
      "$PYTHON" pyenv/baselines.py --kind "$kind" --cfg_path "$CFG2" --data_dir "$DATA" \
        --memory_list "$DATA/memory.txt" --test_list "$DATA/test.txt" --save_dir "$OUT/$kind/results" \
        --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    done
    for run in "$U" "$OUT/raw_pixels" "$OUT/region_histograms"; do
      dir="$run/results/test"; [ "$run" = "$U" ] || dir="$run/results/knn"
      "$PYTHON" pyenv/eval.py --pred_dir "$dir/semantic_gray" --gt_list "$DATA/test.txt" \
        --data_dir "$DATA" --num_classes 21 --class_names voc --out_json "$run/results/eval.json" | tail -n 4
    done
  fi

  # oracle_eval NAME RUN_DIR CFG CHECKPOINT: each test segment labelled with its own majority ground truth.
  oracle_eval() {
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/inference.py --cfg_path "$3" --checkpoint "$4" --data_dir "$DATA" --data_list "$DATA/test.txt" \
      --save_dir "$2/results/oracle" --readout oracle --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    "$PYTHON" pyenv/eval.py --pred_dir "$2/results/oracle/semantic_gray" --gt_list "$DATA/test.txt" \
      --data_dir "$DATA" --num_classes 21 --class_names voc --out_json "$2/results/eval_oracle.json" | tail -n 3
  }
  if hsg_step ORACLE; then
    hsg_log "oracle read-outs (segments labelled with their own ground truth)"
    oracle_eval untrained "$U" "$CFG2" untrained
    oracle_eval "stage 1" "$S1" "$CFG1" "$(hsg_latest "$S1")"
    oracle_eval "stage 2" "$S2" "$CFG2" "$(hsg_latest "$S2")"
    for kind in raw_pixels region_histograms; do
      # shellcheck disable=SC2086
      "$PYTHON" pyenv/baselines.py --kind "$kind" --readout oracle --cfg_path "$CFG2" --data_dir "$DATA" \
        --memory_list "$DATA/memory.txt" --test_list "$DATA/test.txt" --save_dir "$OUT/$kind/results" \
        --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
      "$PYTHON" pyenv/eval.py --pred_dir "$OUT/$kind/results/oracle/semantic_gray" --gt_list "$DATA/test.txt" \
        --data_dir "$DATA" --num_classes 21 --class_names voc --out_json "$OUT/$kind/results/eval_oracle.json" \
        | tail -n 3
    done
  fi

  # nn1_eval RUN_DIR CFG CHECKPOINT: the same memory, each test segment labelled by its nearest prototype.
  nn1_eval() {
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/inference.py --cfg_path "$2" --checkpoint "$3" --data_dir "$DATA" --data_list "$DATA/test.txt" \
      --save_dir "$1/results/nn1" --semantic_memory_dir "$1/results/memory/semantic_prototype" \
      --opts test.knn=1 ${PROFILE_OPTS[*]} $EXTRA_OPTS
    "$PYTHON" pyenv/eval.py --pred_dir "$1/results/nn1/semantic_gray" --gt_list "$DATA/test.txt" \
      --data_dir "$DATA" --num_classes 21 --class_names voc --out_json "$1/results/eval_nn1.json" | tail -n 3
  }
  if hsg_step NN1; then
    hsg_log "1-NN read-outs (each segment labelled by its nearest memory prototype)"
    nn1_eval "$U" "$CFG2" untrained
    nn1_eval "$S1" "$CFG1" "$(hsg_latest "$S1")"
    nn1_eval "$S2" "$CFG2" "$(hsg_latest "$S2")"
    for kind in raw_pixels region_histograms; do
      # shellcheck disable=SC2086
      "$PYTHON" pyenv/baselines.py --kind "$kind" --cfg_path "$CFG2" --data_dir "$DATA" \
        --memory_list "$DATA/memory.txt" --test_list "$DATA/test.txt" --save_dir "$OUT/$kind/results/nn1" \
        --opts test.knn=1 ${PROFILE_OPTS[*]} $EXTRA_OPTS
      "$PYTHON" pyenv/eval.py --pred_dir "$OUT/$kind/results/nn1/knn/semantic_gray" --gt_list "$DATA/test.txt" \
        --data_dir "$DATA" --num_classes 21 --class_names voc --out_json "$OUT/$kind/results/eval_nn1.json" \
        | tail -n 3
    done
  fi

  if hsg_step TABLE; then
    MINUTES=$(( ($(date +%s) - START) / 60 ))
    "$PYTHON" pyenv/results_table.py --title "HSG at small scale on real images ($PROFILE profile)" \
      --row "untrained network=$U/results/eval.json" \
      --row "raw pixels (k-means on colour + position)=$OUT/raw_pixels/results/eval.json" \
      --row "over-segmentation regions, colour histograms=$OUT/region_histograms/results/eval.json" \
      --row "HSG stage 1=$S1/results/eval.json" --row "HSG stage 2=$S2/results/eval.json" \
      --nn1 "untrained network=$U/results/eval_nn1.json" \
      --nn1 "raw pixels (k-means on colour + position)=$OUT/raw_pixels/results/eval_nn1.json" \
      --nn1 "over-segmentation regions, colour histograms=$OUT/region_histograms/results/eval_nn1.json" \
      --nn1 "HSG stage 1=$S1/results/eval_nn1.json" --nn1 "HSG stage 2=$S2/results/eval_nn1.json" \
      --oracle "untrained network=$U/results/eval_oracle.json" \
      --oracle "raw pixels (k-means on colour + position)=$OUT/raw_pixels/results/eval_oracle.json" \
      --oracle "over-segmentation regions, colour histograms=$OUT/region_histograms/results/eval_oracle.json" \
      --oracle "HSG stage 1=$S1/results/eval_oracle.json" --oracle "HSG stage 2=$S2/results/eval_oracle.json" \
      --note "Trained without labels on $(wc -l < "$DATA/train.txt") images (BSDS500 train+val, VOC 2012 memory part);" \
      --note "memory: $(wc -l < "$DATA/memory.txt") labelled VOC images; scored on $(wc -l < "$DATA/test.txt") held-apart VOC images, 21 classes." \
      --note "mIoU: the original's protocol (k-means segments labelled by the vote of their 20 nearest memory prototypes)." \
      --note "1-NN mIoU: the same segments and memory, each segment labelled by its single nearest prototype." \
      --note "oracle mIoU: the same segments, each labelled with its own majority ground truth (an upper bound of the segmentation)." \
      --note "Machine: $(nproc) CPU cores$(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | head -n 1 | sed 's/^/, /' || true); this run took ${MINUTES} min (steps skipped with RUN_*=0 not counted)." \
      --out_json "$OUT/results.json" --out_md "$OUT/results.md"
  fi
)
