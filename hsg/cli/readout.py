"""Score checkpoints in one command: labelled memory, predictions of the test list, mIoU per read-out;
optionally every checkpoint of one or more runs, as a learning curve with baselines.

    python pyenv/readout.py --cfg_path CFG --snapshot_dir RUN --data_dir DATA --memory_list TRAIN \\
        --test_list VAL --save_dir RUN/readout --readouts knn cluster
    python pyenv/readout.py ... --checkpoint untrained --save_dir out/untrained          # the baseline
    python pyenv/readout.py ... --snapshot_dir RUN/stage1 RUN/stage2 --every_checkpoint \\
        --baseline untrained=out/untrained/readout.json --save_dir RUN/curve

Read-outs (``hsg/inference/readout.py``): ``knn`` (the original's protocol: the 20-vote of the labelled
memory), ``nn1``, ``cluster`` (label-free: k-means of the test set into ``dataset.num_classes`` clusters,
Hungarian-matched: the field's *unsupervised* protocol), ``overcluster`` (``test.overcluster_k`` clusters,
each mapped to its majority class, as IIC), ``linear`` (the field's *linear probe*: a 1x1 classifier on the
frozen pixel embeddings, trained on the memory list's labels; ``test.linear_*`` keys) and ``oracle`` (each
segment's own majority ground truth, a diagnostic); ``--crf`` also scores each after a dense CRF. The k-means
grid, the number of classes, the vote's k and the ignore label come from the config
(``test.kmeans_num_clusters``, ``dataset.num_classes``, ``test.knn``, ``dataset.semantic_ignore_index``).

Writes ``SAVE_DIR/readout.json`` ({read-out: mIoU, pixel accuracy, per-class IoU}); with
``--every_checkpoint``, ``SAVE_DIR/<run>/iter_<N>/readout.json`` for each checkpoint (iterations of a
later run continue those of the earlier one: stage 2 after stage 1), ``SAVE_DIR/curve.json`` and
``SAVE_DIR/curve.png``. A checkpoint already scored in that folder with the same checkpoint file, config
and lists is not scored again (``--overwrite`` redoes it); runs of one name (``a/stage1 b/stage1``) get
numbered folders.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hsg.cli.common import base_parser, resolve_config
from hsg.errors import DataError, user_errors

READOUTS = ("knn", "nn1", "cluster", "overcluster", "linear", "oracle")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__, data_list=None, snapshot_nargs="+",
                         snapshot_help="run folder(s): the newest checkpoint of the last is scored, or every "
                                       "checkpoint of each with --every_checkpoint")
    parser.add_argument("--checkpoint", default=None,
                        help="one checkpoint file, or 'untrained' (the randomly initialised network); default: "
                             "the newest checkpoint of the last --snapshot_dir")
    parser.add_argument("--every_checkpoint", action="store_true",
                        help="score every checkpoint of every --snapshot_dir, and draw the learning curve")
    parser.add_argument("--memory_list", default=None,
                        help="labelled images of the memory (knn and nn1) and of the linear probe's training pixels")
    parser.add_argument("--test_list", required=True, help="images to score, with their ground truth")
    parser.add_argument("--save_dir", required=True, help="output folder")
    parser.add_argument("--readouts", nargs="+", default=["knn", "cluster"], choices=READOUTS,
                        help="read-outs to compute and score")
    parser.add_argument("--crf", action="store_true",
                        help="also score every read-out after a dense CRF on its predictions, as <read-out>_crf "
                             "(needs the optional pydensecrf2: pip install .[crf])")
    # pyenv/inference.py's earlier spelling, accepted here too; hidden so that --help shows one.
    parser.add_argument("--readout", nargs="+", dest="readouts", default=argparse.SUPPRESS, choices=READOUTS,
                        help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=READOUT_JSON",
                        help="a baseline's readout.json, drawn as flat lines on the learning curve")
    parser.add_argument("--title", default="", help="title of the learning-curve plot")
    parser.add_argument("--overwrite", action="store_true", help="score again what this folder already holds "
                        "(without it, results are reused only when checkpoint, config and lists are the same)")
    args = parser.parse_args(argv)
    if {"knn", "nn1", "linear"} & set(args.readouts) and not args.memory_list:
        parser.error("--memory_list is required for the knn, nn1 and linear read-outs")
    if args.every_checkpoint and args.checkpoint:
        parser.error("give --checkpoint or --every_checkpoint, not both")
    if not args.snapshot_dir and args.checkpoint in (None, "") and not args.every_checkpoint:
        parser.error("give --snapshot_dir RUN (its newest checkpoint is scored) or --checkpoint FILE|untrained")
    return args


SOURCE_FILE = "readout_source.json"


def scored_source(cfg, checkpoint: Path | None, args: argparse.Namespace) -> dict:
    """What a read-out's numbers depend on: results in a folder are reused only when all of it is the same
    (the checkpoint file, by path, size and modification time; the whole config; the lists)."""
    stat = checkpoint.stat() if checkpoint is not None else None
    return {"checkpoint": None if checkpoint is None else str(Path(checkpoint).resolve()),
            "checkpoint_file": None if stat is None else [stat.st_size, stat.st_mtime_ns],
            "config": json.loads(json.dumps(cfg, sort_keys=True, default=str)),
            "test_list": str(Path(args.test_list).resolve()),
            "memory_list": args.memory_list and str(Path(args.memory_list).resolve())}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with user_errors("readout"):
        cfg = resolve_config(args, runs_checkpoint=True)
        from hsg.engine import distributed as du
        from hsg.files import write_json
        from hsg.inference.load import load_model, resolve_checkpoint
        from hsg.inference.readout import load_named_readout, run_readouts, write_scores
        from hsg.inference.segmenter import NetworkSegmenter, ReplaySegmenter, segment_share
        from hsg.models.weights import checkpoint_iteration, list_checkpoints
        from hsg.vis.curves import plot_learning_curves

        baselines = {name: {r: s["miou"] for r, s in data.items()}
                     for name, _, data in (load_named_readout(spec, "--baseline") for spec in args.baseline)}
        # Under torchrun each process cuts its share of the memory and test images into segments (the
        # embedding and k-means: nearly all the time) and the main process reads them out and writes.
        # The others wait while the main process scores (minutes to hours at full scale): a long timeout.
        dist = du.init_distributed(cfg.device, timeout_minutes=max(cfg.train.dist_timeout_minutes, 360))
        device = dist.device
        save_dir = Path(args.save_dir)
        segment_lists = [args.test_list] + ([args.memory_list] if {"knn", "nn1"} & set(args.readouts) else [])

        def reusable(checkpoint: Path | None, out: Path) -> dict | None:
            """The folder's scores when they answer this command (same source, every read-out asked for);
            with ``--crf`` on a folder scored without it, its saved predictions are refined and scored here."""
            source = scored_source(cfg, checkpoint, args)
            if args.overwrite or not (out / "readout.json").is_file() or not (out / SOURCE_FILE).is_file():
                return None
            if json.loads((out / SOURCE_FILE).read_text()) != source:
                return None
            done = json.loads((out / "readout.json").read_text())
            wanted = [*args.readouts, *([f"{r}_crf" for r in args.readouts] if args.crf else [])]
            if set(wanted) <= set(done):
                print(f"[readout] {checkpoint or 'untrained network'}: already scored with the same checkpoint, "
                      f"config and lists -> {out}/readout.json")
                return {r: done[r] for r in wanted}
            if args.crf and set(args.readouts) <= set(done):
                summary = write_scores(cfg, out, cfg.dataset.data_dir, args.test_list, args.readouts,
                                       args.memory_list, crf=True)
                write_json(out / "readout.json", {**done, **summary})  # read-outs not asked for stay listed
                print(f"[readout] {checkpoint or 'untrained network'}: the saved predictions scored after the "
                      f"dense CRF -> {out}/readout.json")
                return summary
            return None

        def score(checkpoint: Path | None, out: Path) -> dict | None:
            """The read-outs of one checkpoint (on the main process; None on the others)."""
            done = du.broadcast_object(reusable(checkpoint, out) if dist.is_main else None)
            if done is not None:
                return done if dist.is_main else None
            source = scored_source(cfg, checkpoint, args)
            model = load_model(cfg, checkpoint, device)
            segmenter = NetworkSegmenter(cfg, model, device)
            if dist.world_size > 1:
                shares = {name: segment_share(cfg, segmenter, cfg.dataset.data_dir, name, dist.rank, dist.world_size)
                          for name in segment_lists}
                gathered = du.gather_to_main(shares)
                if not dist.is_main:
                    return None
                segmenter = ReplaySegmenter(segmenter, {path: result for part in gathered
                                                        for results in part.values() for path, result in results.items()})
            summary = run_readouts(cfg, segmenter, cfg.dataset.data_dir, args.test_list,
                                   out, args.readouts, memory_list=args.memory_list, device=device, crf=args.crf)
            write_json(out / SOURCE_FILE, source)
            print(f"[readout] {checkpoint or 'untrained network'}: " +
                  ", ".join(f"{r} {s['miou']:.2f}" for r, s in summary.items()) + f" mIoU -> {out}/readout.json")
            return summary

        if not args.every_checkpoint:
            dirs = args.snapshot_dir or [None]
            score(resolve_checkpoint(dirs[-1], args.checkpoint), save_dir)
            du.cleanup()
            return 0
        points, offset, starts = [], 0, {}
        names = [Path(run).name for run in args.snapshot_dir]
        if len(set(names)) < len(names):  # runs of one name in different folders must not share results
            names = [f"{i}_{name}" for i, name in enumerate(names)]
        for run, name in zip(args.snapshot_dir, names):
            checkpoints = list_checkpoints(run)
            if not checkpoints:
                raise DataError(run, "no checkpoint (model-*.pth) in the run folder")
            if offset:
                starts[name] = offset
            for path in checkpoints:
                iteration = checkpoint_iteration(path)
                summary = score(path, save_dir / name / f"iter_{iteration}")
                points.append({"iteration": offset + iteration, "run": str(run), "checkpoint": str(path),
                               "readouts": summary})
            offset += checkpoint_iteration(checkpoints[-1])
        du.cleanup()
        if not dist.is_main:
            return 0
        curve = {"points": points, "baselines": baselines, "title": args.title, "starts": starts}
        write_json(save_dir / "curve.json", curve)
        plot_learning_curves({p["iteration"]: {r: s["miou"] for r, s in p["readouts"].items()} for p in points},
                             baselines, save_dir / "curve.png", args.title, starts=starts)
        print(f"[readout] {len(points)} checkpoints -> {save_dir}/curve.json, {save_dir}/curve.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
