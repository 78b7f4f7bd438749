"""Semantic segmentation of a test split by kNN retrieval from the labelled memory.

    python pyenv/inference.py --cfg_path CFG --snapshot_dir RUN --data_dir VOCdevkit \
        --data_list lists/voc12_val.txt --save_dir RUN/results/val \
        --semantic_memory_dir RUN/results/train/semantic_prototype --kmeans_num_clusters 6,6

Writes ``SAVE_DIR/semantic_gray/<name>.png`` (class ids, ready for pyenv/eval.py), ``semantic_color/``
(palette PNGs) and ``semantic_overlay/`` (colours over the image).
"""

from __future__ import annotations

import sys
import time

from hsg.config.cli import add_inference_flags, base_parser, resolve_config
from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_inference_flags(parser)
    parser.add_argument("--semantic_memory_dir", default=None,
                        help="folder of prototype files written by pyenv/prototype.py")
    parser.add_argument("--readout", default="knn", choices=("knn", "oracle"),
                        help="knn: the memory's vote (the protocol); oracle: each segment's own majority "
                             "ground truth, the upper bound of the segmentation (a diagnostic)")
    args = parser.parse_args(argv)
    if args.readout == "knn" and not args.semantic_memory_dir:
        parser.error("--semantic_memory_dir is required (or --readout oracle)")
    with user_errors("inference"):
        cfg = resolve_config(args)
        from hsg.inference.runner import predict, prepare_model

        model, device, _ = prepare_model(cfg, args.snapshot_dir, args.checkpoint)
        start = time.perf_counter()
        count = predict(cfg, model, cfg.dataset.data_dir, args.data_list or cfg.dataset.test_data_list,
                        args.semantic_memory_dir, args.save_dir, device, args.readout)
        seconds = time.perf_counter() - start
        print(f"[inference] {count} images in {seconds:.1f} s ({count / max(seconds, 1e-9):.2f} images/s) "
              f"-> {args.save_dir}/semantic_gray")
    return 0


if __name__ == "__main__":
    sys.exit(main())
