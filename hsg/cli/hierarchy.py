"""Pictures of the segment hierarchy (over-segmentation, k-means segments, fine and coarse groups) of any
images, with a stage-2 checkpoint.

    python pyenv/hierarchy.py --checkpoint RUN/model-N.pth --image_dir my_photos --save_dir out
    python pyenv/hierarchy.py --snapshot_dir RUN --data_dir DATA --data_list LIST \\
        --save_dir out [--with_oversegmentation]

The config is the checkpoint's own unless ``--cfg_path`` gives another.

A folder of photos needs nothing else: its over-segmentations are read from
``IMAGE_DIR/oversegmentation/`` where they exist (``pyenv/oversegment.py --image_dir IMAGE_DIR`` puts them
there) and made for the others into ``SAVE_DIR/oversegmentation/``; ``--no_oversegmentation`` groups the
k-means segments alone. Masks and other files stored beside the photos are not taken for photos.

Writes, for each image, ``SAVE_DIR/hierarchy/<level>/<name>.png`` at the image's own size, each level drawn
pixel by pixel at that resolution (palette PNGs whose values are the ids in the figure's legend and whose
colours are the figure's; 255 = none) and one composite figure ``SAVE_DIR/hierarchy/figure/<name>.png``;
``<name>`` keeps the photo's sub-folders. The same levels from Python: ``hsg.load(CHECKPOINT).hierarchy(images)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from hsg.cli.common import add_inference_flags, base_parser, resolve_config
from hsg.errors import ConfigError, DataError, user_errors


def folder_samples(image_dir: Path, save_dir: Path, oversegmentation: bool, workers: int,
                   share: tuple[int, int] = (0, 1)) -> list:
    """The photos under ``image_dir`` as samples, with their over-segmentations (found, or made). ``share``
    ``(rank, processes)``: this process's photos only (every ``processes``-th, from ``rank``), after the
    output names of all of them were checked."""
    from hsg.data.catalogue import oversegmentation_path
    from hsg.data.listing import folder_images
    from hsg.data.lists import Sample
    from hsg.oversegmentation.batch import Job, Settings, run_jobs
    from hsg.oversegmentation.ucm import MAX_REGIONS, START_THRESHOLD, THRESHOLD_STEP

    if not image_dir.is_dir():
        raise DataError(image_dir, "--image_dir is not a directory")
    from hsg.inference.hierarchy import check_output_names

    photos = list(folder_images(image_dir, exclude=(save_dir,)))
    if not photos:
        raise DataError(image_dir, "no images found under the folder")
    check_output_names([str(Path(p.relative_to(image_dir).as_posix()).with_suffix("")) for p in photos])
    photos = photos[share[0]::share[1]]
    samples, jobs = [], []
    for photo in photos:
        rel = photo.relative_to(image_dir).as_posix()
        mask = None
        if oversegmentation:
            mask = image_dir / oversegmentation_path("folder", rel)
            if not mask.is_file():
                mask = save_dir / oversegmentation_path("folder", rel)
                jobs.append(Job(str(photo), str(mask), None))
        samples.append(Sample(str(photo), None, None if mask is None else str(mask), str(Path(rel).with_suffix(""))))
    if jobs:
        print(f"[hierarchy] over-segmenting {len(jobs)} image(s) into {save_dir / 'oversegmentation'}")
        settings = Settings("gradient", None, "cpu", None, MAX_REGIONS, START_THRESHOLD, THRESHOLD_STEP, threads=1)
        failed = set(run_jobs(jobs, settings, workers)["failed_images"])
        samples = [s for s in samples if s.image not in failed]  # an unreadable photo: reported, left out
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__, data_list="list file of the images (instead of --image_dir)",
                         snapshot_help="a stage-2 run folder (its newest checkpoint is used)")
    add_inference_flags(parser, grid=False)
    parser.add_argument("--image_dir", default=None, help="a folder of images, searched recursively (instead of "
                                                          "--data_list)")
    parser.add_argument("--no_oversegmentation", action="store_true",
                        help="with --image_dir: group the k-means segments alone, without over-segmentations")
    parser.add_argument("--with_oversegmentation", action="store_true",
                        help="with --data_list: read the list's over-segmentation column and intersect the "
                             "k-means segments with it, as in training")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes that make missing over-segmentations")
    args = parser.parse_args(argv)
    if bool(args.image_dir) == bool(args.data_list):
        parser.error("give --image_dir DIR or --data_list LIST")
    with user_errors("hierarchy"):
        cfg = resolve_config(args, runs_checkpoint=True)
        import torch

        from hsg.data.datasets import EvalDataset
        from hsg.engine import distributed as du
        from hsg.inference.hierarchy import check_output_names, hierarchy_pictures
        from hsg.inference.load import load_model, resolve_checkpoint

        # Under torchrun every process draws its share of the images (each image's hierarchy depends on it
        # alone, so the pictures are those of one process) on the GPU of its local rank.
        dist = du.init_distributed(cfg.device, cfg.train.dist_timeout_minutes)
        share = (dist.rank, dist.world_size)
        model = load_model(cfg, resolve_checkpoint(args.snapshot_dir, args.checkpoint), dist.device,
                           need_hierarchy=True)
        if args.image_dir:
            samples = folder_samples(Path(args.image_dir), Path(args.save_dir), not args.no_oversegmentation,
                                     args.workers, share)
            dataset = EvalDataset(cfg, "", None, not args.no_oversegmentation, samples=samples)
        else:
            if args.no_oversegmentation:
                raise ConfigError("--no_oversegmentation goes with --image_dir (a list uses "
                                  "--with_oversegmentation to read its column 3)")
            dataset = EvalDataset(cfg, cfg.dataset.data_dir, args.data_list, args.with_oversegmentation)
            check_output_names([sample.name for sample in dataset.samples])
            dataset.samples = dataset.samples[share[0]::share[1]]
        count = hierarchy_pictures(cfg, model, dataset, args.save_dir, dist.device)
        count = int(du.all_reduce_sum(torch.tensor(float(count), device=dist.device)).item())
        du.cleanup()
        if dist.is_main:
            print(f"[hierarchy] {count} images -> {args.save_dir}/hierarchy/figure")
    return 0
