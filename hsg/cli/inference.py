"""Semantic segmentation of a test split by kNN retrieval from the labelled memory.

    python pyenv/inference.py --cfg_path CFG --snapshot_dir RUN --data_dir VOCdevkit \\
        --data_list lists/voc12_val.txt --save_dir RUN/results/val \\
        --semantic_memory_dir RUN/results/train/semantic_prototype --kmeans_num_clusters 6,6

Writes ``SAVE_DIR/semantic_gray/<name>.png`` (class ids, ready for pyenv/eval.py), ``semantic_color/``
(palette PNGs) and ``semantic_overlay/`` (colours over the image).
"""

from __future__ import annotations

import argparse
import sys
import time

from hsg.cli.common import add_inference_flags, base_parser, resolve_config
from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__, data_list="list file of the images to segment (column 2, the "
                         "ground truth, only for --readouts oracle; default: dataset.test_data_list)",
                         snapshot_help="a run folder (its newest checkpoint is used)")
    add_inference_flags(parser)
    parser.add_argument("--semantic_memory_dir", default=None,
                        help="folder of prototype files written by pyenv/prototype.py")
    parser.add_argument("--readouts", nargs="+", default=["knn"], choices=("knn", "nn1", "cluster", "oracle"),
                        help="knn: the memory's vote (the protocol) -> semantic_gray/; nn1: the nearest memory "
                             "feature -> nn1_gray/; cluster: label-free k-means of the test set into "
                             "dataset.num_classes clusters -> cluster_gray/ (score with eval.py --mode cluster); "
                             "oracle: each segment's own majority ground truth, a diagnostic -> oracle_gray/")
    # The earlier spelling, kept for existing scripts; hidden so that --help shows one (as pyenv/readout.py's).
    parser.add_argument("--readout", nargs="+", dest="readouts", default=argparse.SUPPRESS,
                        choices=("knn", "nn1", "cluster", "oracle"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if {"knn", "nn1"} & set(args.readouts) and not args.semantic_memory_dir:
        parser.error("--semantic_memory_dir is required for the knn and nn1 read-outs")
    with user_errors("inference"):
        cfg = resolve_config(args, runs_checkpoint=True)
        from hsg.inference.load import prepare_model
        from hsg.inference.memory import load_memory
        from hsg.inference.readout import FOLDERS, predict
        from hsg.inference.segmenter import NetworkSegmenter

        model, device, _ = prepare_model(cfg, args.snapshot_dir, args.checkpoint)
        memory = load_memory(args.semantic_memory_dir, cfg.dataset.semantic_ignore_index) \
            if args.semantic_memory_dir else None
        start = time.perf_counter()
        count = predict(cfg, NetworkSegmenter(cfg, model, device), cfg.dataset.data_dir,
                        args.data_list or cfg.dataset.test_data_list, args.save_dir, args.readouts, memory, device)
        seconds = time.perf_counter() - start
        folders = ", ".join(f"{args.save_dir}/{FOLDERS[r]}" for r in args.readouts)
        print(f"[inference] {count} images in {seconds:.1f} s ({count / max(seconds, 1e-9):.2f} images/s) -> {folders}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
