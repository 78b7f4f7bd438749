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

  # score PRED_DIR OUT_JSON: mIoU of a folder of predictions on the held-apart test images.
  score() {
    "$PYTHON" pyenv/eval.py --pred_dir "$1" --gt_list "$DATA/test.txt" --data_dir "$DATA" --num_classes 21 \
      --class_names voc --out_json "$2" | tail -n 3
  }
  # net_readout NAME RUN_DIR CFG CHECKPOINT OPTS [inference.py flags]: a network's test segments read out
  # once more (another vote, or the oracle), scored into RUN_DIR/results/eval_NAME.json.
  net_readout() {
    local name=$1 run=$2 cfg=$3 ckpt=$4 opts=$5; shift 5
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/inference.py --cfg_path "$cfg" --checkpoint "$ckpt" --data_dir "$DATA" \
      --data_list "$DATA/test.txt" --save_dir "$run/results/$name" "$@" --opts $opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    score "$run/results/$name/semantic_gray" "$run/results/eval_$name.json"
  }
  # base_readout NAME KIND READOUT OPTS: the same for a baseline of pyenv/baselines.py.
  base_readout() {
    local name=$1 kind=$2 readout=$3 opts=$4
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/baselines.py --kind "$kind" --readout "$readout" --cfg_path "$CFG2" --data_dir "$DATA" \
      --memory_list "$DATA/memory.txt" --test_list "$DATA/test.txt" --save_dir "$OUT/$kind/results/$name" \
      --opts $opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    score "$OUT/$kind/results/$name/$readout/semantic_gray" "$OUT/$kind/results/eval_$name.json"
  }

  if hsg_step BASELINES; then
    hsg_log "baselines: untrained network, raw pixels, region colour histograms"
    mkdir -p "$U"
    # shellcheck disable=SC2086
    "$PYTHON" pyenv/prototype.py --cfg_path "$CFG2" --checkpoint untrained --data_dir "$DATA" \
      --data_list "$DATA/memory.txt" --save_dir "$U/results/memory" --opts ${PROFILE_OPTS[*]} $EXTRA_OPTS
    net_readout knn "$U" "$CFG2" untrained "" --semantic_memory_dir "$U/results/memory/semantic_prototype"
    for kind in raw_pixels region_histograms; do base_readout knn "$kind" knn ""; done
  fi

  # oracle: each test segment labelled with its own majority ground truth.
  if hsg_step ORACLE; then
    hsg_log "oracle read-outs (segments labelled with their own ground truth)"
    net_readout oracle "$U" "$CFG2" untrained "" --readout oracle
    net_readout oracle "$S1" "$CFG1" "$(hsg_latest "$S1")" "" --readout oracle
    net_readout oracle "$S2" "$CFG2" "$(hsg_latest "$S2")" "" --readout oracle
    for kind in raw_pixels region_histograms; do base_readout oracle "$kind" oracle ""; done
  fi
  # 1-NN: the same memory, each test segment labelled by its single nearest prototype.
  if hsg_step NN1; then
    hsg_log "1-NN read-outs (each segment labelled by its nearest memory prototype)"
    for run in "$U" "$S1" "$S2"; do
      cfg=$CFG2; ckpt=untrained
      [ "$run" = "$U" ] || ckpt=$(hsg_latest "$run")
      [ "$run" = "$S1" ] && cfg=$CFG1
      net_readout nn1 "$run" "$cfg" "$ckpt" test.knn=1 --semantic_memory_dir "$run/results/memory/semantic_prototype"
    done
    for kind in raw_pixels region_histograms; do base_readout nn1 "$kind" knn test.knn=1; done
  fi

  if hsg_step TABLE; then
    MINUTES=$(( ($(date +%s) - START) / 60 ))
    "$PYTHON" pyenv/results_table.py --title "HSG at small scale on real images ($PROFILE profile)" \
      --row "untrained network=$U/results/eval_knn.json" \
      --row "raw pixels (k-means on colour + position)=$OUT/raw_pixels/results/eval_knn.json" \
      --row "over-segmentation regions, colour histograms=$OUT/region_histograms/results/eval_knn.json" \
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
