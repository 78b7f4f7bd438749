"""Build the labelled semantic memory: k-means prototypes of a labelled split, tagged with the majority
ground-truth class (the original's protocol).

    python pyenv/prototype.py --cfg_path CFG --snapshot_dir RUN --data_dir VOCdevkit \\
        --data_list lists/voc12_train_aug.txt --save_dir RUN/results/train --kmeans_num_clusters 6,6

Writes ``SAVE_DIR/semantic_prototype/<name>.npz`` (prototypes + labels), ``semantic_cluster/`` and
``semantic_color/``.
"""

from __future__ import annotations

import sys
import time

from hsg.cli.common import add_inference_flags, base_parser, resolve_config
from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__, data_list="list file of the labelled images of the memory "
                         "(default: dataset.memory_data_list)", snapshot_help="a run folder (its newest checkpoint is used)")
    add_inference_flags(parser)
    args = parser.parse_args(argv)
    with user_errors("prototype"):
        cfg = resolve_config(args, runs_checkpoint=True)
        from hsg.inference.load import prepare_model
        from hsg.inference.readout import build_memory
        from hsg.inference.segmenter import NetworkSegmenter

        model, device, checkpoint = prepare_model(cfg, args.snapshot_dir, args.checkpoint)
        start = time.perf_counter()
        memory, _ = build_memory(cfg, NetworkSegmenter(cfg, model, device), cfg.dataset.data_dir,
                                 args.data_list or cfg.dataset.memory_data_list, args.save_dir)
        print(f"[prototype] {memory.shape[0]} labelled prototypes from {checkpoint or 'the untrained network'} in "
              f"{time.perf_counter() - start:.1f} s -> {args.save_dir}/semantic_prototype")
    return 0


if __name__ == "__main__":
    sys.exit(main())
