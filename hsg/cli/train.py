"""Train HSG (either stage) on one CPU, one GPU, or many GPUs and nodes.

    python pyenv/train.py --cfg_path configs/coco_stage1.yaml --data_dir DATA --data_list LIST \\
        --snapshot_dir snapshots/run/stage1 [--opts train.max_iteration=1000 ...]
    torchrun --nproc_per_node 8 pyenv/train.py ...            # 8 GPUs on one machine
    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 pyenv/train.py ...

``train.batch_size`` is the global batch: the same config means the same run on any number of processes.
The run owns its --snapshot_dir (a second run there is refused); --opts train.resume=true continues the
newest checkpoint. SIGTERM or Ctrl-C stops after the current iteration with a checkpoint (exit status
128 + the signal's number); a second Ctrl-C exits at once.
"""

from __future__ import annotations

import sys

from hsg.cli.common import base_parser, resolve_config
from hsg.errors import Interrupted, user_errors


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__, snapshot_required=True,
                         data_list="list file of the training images, column 3 naming each over-segmentation "
                                   "(sets dataset.train_data_list)",
                         snapshot_help="the run's folder: checkpoints, config.yaml, log.jsonl, TensorBoard events")
    args = parser.parse_args(argv)
    with user_errors("train"):
        cfg = resolve_config(args)
        if args.data_list:  # into the config, so that the run's config.yaml names the list it trained on
            cfg.dataset.train_data_list = args.data_list
        from hsg.engine import distributed as du  # after argument checks: importing torch takes a moment
        from hsg.engine.trainer import train

        try:
            path = train(cfg, args.snapshot_dir)
        except KeyboardInterrupt:  # before the training loop, where SIGINT is not yet handled
            print("[train] interrupted before the first iteration: nothing was trained", file=sys.stderr)
            return 130
        except Interrupted:
            du.cleanup()  # every process stopped at the same iteration: leave the group cleanly
            raise
        du.cleanup()  # here, not inside train(): its DDP wrapper must be gone first (see du.cleanup)
        print(f"[train] final checkpoint: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
