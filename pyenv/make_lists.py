"""Write three-column list files (``image semantic_label seginst``) from what is on disk.

    python pyenv/make_lists.py --dataset voc12 --data_dir VOCdevkit --split train_aug --out lists/voc12/train_aug.txt
    python pyenv/make_lists.py --dataset voc12 --data_dir VOCdevkit --split val --out lists/voc12/val.txt
    python pyenv/make_lists.py --dataset coco --data_dir DATAROOT --split train2017 --out lists/coco/train.txt
    python pyenv/make_lists.py --dataset cityscapes --data_dir Cityscapes --split train --out lists/cs/train.txt
    python pyenv/make_lists.py --dataset folder --data_dir my_photos --seginst_dir seginst --out my_photos.txt

Paths in the list are relative to ``--data_dir`` (pass the same directory as ``dataset.data_dir``).
Which images belong to a split comes from the dataset's own split files: VOC
``VOC2012/ImageSets/Segmentation/<split>.txt``; ``train_aug`` = SBD train + val ids, plus VOC train, minus
VOC val (SBD ids from ``<sbd_dir>/{train,val}.txt``); COCO ``MSCOCO/images/<split>``; Cityscapes
``leftImg8bit/<split>``; for a folder every image under ``--image_dir``. VOC ``all`` lists every JPEG.

Column 2 is the ground truth when it exists, else ``-``. Column 3 is where the dataset keeps the
over-segmentation (:func:`hsg.data.lists.seginst_path_for`), also when the mask does not exist yet: the
over-segmentation tool writes it there. The tool reports how many images lack either.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hsg.data.lists import ABSENT, DATASETS, seginst_path_for, write_list
from hsg.errors import DataError, user_errors

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm")
DEFAULT_SEGINST = {"voc12": "rf_0.25_48", "coco": "rf_0.25_48", "cityscapes": "pmi_0.05", "folder": "seginst"}
VOC_LABEL_DIRS = ("segcls", "SegmentationClassAug", "SegmentationClass")
SBD_DIRS = ("sbd/dataset", "SBD/dataset", "benchmark_RELEASE/dataset")


@dataclass
class Listing:
    """The rows of a list file and what was missing while building them."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    no_image: list[str] = field(default_factory=list)
    no_label: int = 0
    no_seginst: int = 0


def _exists(root: Path, rel: str) -> bool:
    return (root / rel).is_file()


def _read_ids(path: Path) -> list[str]:
    """Ids of a split file: the first token of each non-empty line (VOC/SBD split format)."""
    if not path.is_file():
        raise DataError(path, "split file not found")
    ids = []
    for line in path.read_text().splitlines():
        token = line.split()[0] if line.split() else ""
        if token:
            ids.append(Path(token).stem)
    if not ids:
        raise DataError(path, "split file lists no ids")
    return ids


def _add(listing: Listing, root: Path, dataset: str, image_rel: str, label_rel: str | None, seginst_dir: str,
         skip_missing_seginst: bool) -> None:
    seginst_rel = seginst_path_for(dataset, image_rel, seginst_dir)
    has_seginst = _exists(root, seginst_rel)
    if not has_seginst:
        listing.no_seginst += 1
        if skip_missing_seginst:
            return
    if label_rel is None:
        listing.no_label += 1
    listing.rows.append((image_rel, label_rel or ABSENT, seginst_rel))


# ------------------------------------------------------------------------------------------ VOC
def _sbd_dir(root: Path, given: str | None) -> Path:
    candidates = [given] if given else list(SBD_DIRS)
    for rel in candidates:
        path = root / rel if not os.path.isabs(rel) else Path(rel)
        if path.is_dir():
            return path
    raise DataError(root, f"no SBD folder for split train_aug (looked for {', '.join(candidates)}); "
                          f"pass --sbd_dir")


def _sbd_ids(sbd: Path) -> set[str]:
    split_files = [sbd / "train.txt", sbd / "val.txt"]
    if any(f.is_file() for f in split_files):
        return {i for f in split_files if f.is_file() for i in _read_ids(f)}
    for sub, ext in (("cls", ".mat"), ("clsimg", ".png")):
        if (sbd / sub).is_dir():
            ids = {p.stem for p in (sbd / sub).iterdir() if p.suffix == ext}
            if ids:
                return ids
    raise DataError(sbd, "SBD folder has neither train.txt/val.txt nor cls/*.mat or clsimg/*.png")


def voc_ids(root: Path, split: str, sbd_dir: str | None) -> list[str]:
    """Image ids of a VOC split; ``train_aug`` is SBD train+val plus VOC train, minus VOC val."""
    voc = root / "VOC2012"
    sets = voc / "ImageSets" / "Segmentation"
    if split == "all":
        return sorted(p.stem for p in (voc / "JPEGImages").glob("*.jpg"))
    if split == "train_aug":
        ids = _sbd_ids(_sbd_dir(root, sbd_dir)) | set(_read_ids(sets / "train.txt"))
        return sorted(ids - set(_read_ids(sets / "val.txt")))
    return _read_ids(sets / f"{split}.txt")


def list_voc(root: Path, split: str, seginst_dir: str, label_dir: str | None, sbd_dir: str | None,
             skip_missing_seginst: bool) -> Listing:
    if not (root / "VOC2012" / "JPEGImages").is_dir():
        raise DataError(root / "VOC2012" / "JPEGImages", "not found; --data_dir must be the VOCdevkit folder")
    label_dirs = (label_dir,) if label_dir else VOC_LABEL_DIRS
    listing = Listing()
    for image_id in voc_ids(root, split, sbd_dir):
        image_rel = f"VOC2012/JPEGImages/{image_id}.jpg"
        if not _exists(root, image_rel):
            listing.no_image.append(image_rel)
            continue
        label = next((f"VOC2012/{d}/{image_id}.png" for d in label_dirs
                      if _exists(root, f"VOC2012/{d}/{image_id}.png")), None)
        _add(listing, root, "voc12", image_rel, label, seginst_dir, skip_missing_seginst)
    return listing


# ------------------------------------------------------------------------------------------ COCO
def list_coco(root: Path, split: str, seginst_dir: str, skip_missing_seginst: bool) -> Listing:
    split = {"train": "train2017", "val": "val2017"}.get(split, split)
    folder = root / "MSCOCO" / "images" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must hold MSCOCO/images/<split>")
    listing = Listing()
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            _add(listing, root, "coco", f"MSCOCO/images/{split}/{path.name}", None, seginst_dir,
                 skip_missing_seginst)
    return listing


# ------------------------------------------------------------------------------------------ Cityscapes
def _cityscapes_label(root: Path, split: str, city: str, stem: str) -> str | None:
    base = stem[: -len("_leftImg8bit")] if stem.endswith("_leftImg8bit") else stem
    for rel in (f"gtFine/{split}/{city}/{base}_gtFine_labelTrainIds.png",
                f"gtFine/{split}/{city}/{base}_gtFine_labelIds.png",
                f"gtFineId/{split}/{city}/{base}_gtFineId_labelIds.png"):
        if _exists(root, rel):
            return rel
    return None


def list_cityscapes(root: Path, split: str, seginst_dir: str, skip_missing_seginst: bool) -> Listing:
    folder = root / "leftImg8bit" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must be the Cityscapes folder (leftImg8bit/<split>)")
    listing = Listing()
    for path in sorted(folder.glob("*/*_leftImg8bit.png")):
        city = path.parent.name
        _add(listing, root, "cityscapes", f"leftImg8bit/{split}/{city}/{path.name}",
             _cityscapes_label(root, split, city, path.stem), seginst_dir, skip_missing_seginst)
    return listing


# ------------------------------------------------------------------------------------------ folder
def list_folder(root: Path, image_dir: str, seginst_dir: str, label_dir: str | None,
                skip_missing_seginst: bool) -> Listing:
    folder = root / image_dir
    if not folder.is_dir():
        raise DataError(folder, "image folder not found")
    # The mask folders may sit inside the image folder; their PNGs are not images to list.
    excluded = {(root / d).resolve() for d in (seginst_dir, label_dir) if d}
    listing = Listing()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (Path(dirpath) / d).resolve() not in excluded)
        for name in sorted(filenames):
            if Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            image_rel = Path(os.path.relpath(os.path.join(dirpath, name), root)).as_posix()
            label = None
            if label_dir:
                candidate = (Path(label_dir) / image_rel).with_suffix(".png").as_posix()
                label = candidate if _exists(root, candidate) else None
            _add(listing, root, "folder", image_rel, label, seginst_dir, skip_missing_seginst)
    return listing


def build_listing(args: argparse.Namespace) -> Listing:
    root = Path(args.data_dir)
    if not root.is_dir():
        raise DataError(root, "data directory not found (--data_dir)")
    seginst = args.seginst_dir or DEFAULT_SEGINST[args.dataset]
    skip = args.skip_missing_seginst
    if args.dataset == "voc12":
        return list_voc(root, args.split or "train", seginst, args.label_dir, args.sbd_dir, skip)
    if args.dataset == "coco":
        return list_coco(root, args.split or "train2017", seginst, skip)
    if args.dataset == "cityscapes":
        return list_cityscapes(root, args.split or "train", seginst, skip)
    return list_folder(root, args.image_dir, seginst, args.label_dir, skip)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data_dir", required=True, help="root the list paths are relative to (dataset.data_dir)")
    p.add_argument("--split", default=None, help="voc12: train|val|trainval|train_aug|all (default train); "
                                                 "coco: train2017|val2017; cityscapes: train|val|test")
    p.add_argument("--seginst_dir", default=None,
                   help="over-segmentation folder name (default: rf_0.25_48 for voc12/coco, pmi_0.05 for "
                        "cityscapes, seginst for a folder)")
    p.add_argument("--label_dir", default=None,
                   help="voc12: label folder under VOC2012 (default: first of segcls, SegmentationClassAug, "
                        "SegmentationClass holding the file); folder: label folder under data_dir")
    p.add_argument("--sbd_dir", default=None, help=f"voc12 train_aug: SBD folder with train.txt/val.txt "
                                                   f"(default: first of {', '.join(SBD_DIRS)} under data_dir)")
    p.add_argument("--image_dir", default=".", help="folder: image folder under data_dir (default: data_dir)")
    p.add_argument("--skip_missing_seginst", action="store_true",
                   help="leave out images whose over-segmentation does not exist yet")
    p.add_argument("--out", required=True, help="list file to write")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with user_errors("make_lists"):
        listing = build_listing(args)
        if not listing.rows:
            raise DataError(args.out, f"no images found for --dataset {args.dataset} --split {args.split} "
                                      f"under {args.data_dir}; nothing written")
        n = write_list(args.out, listing.rows)
        print(f"[make_lists] wrote {n} lines to {args.out}")
        if listing.no_image:
            print(f"[make_lists] {len(listing.no_image)} id(s) of the split have no image on disk and were left "
                  f"out, e.g. {listing.no_image[0]}")
        if listing.no_label:
            print(f"[make_lists] {listing.no_label} image(s) have no semantic label (column 2 is '-')")
        if listing.no_seginst:
            action = "were left out" if args.skip_missing_seginst else \
                "are listed where the mask belongs; create them with pyenv/oversegment.py"
            print(f"[make_lists] {listing.no_seginst} image(s) have no over-segmentation yet and {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
