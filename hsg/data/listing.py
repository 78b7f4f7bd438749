"""Build list files (``image semantic_label oversegmentation``) from what is on disk.

Which images belong to a split comes from the dataset's own split files and folders (layouts in
:mod:`hsg.data.catalogue`): VOC ``VOC2012/ImageSets/Segmentation/<split>.txt``, where ``train_aug`` = SBD
train + val ids, plus VOC train, minus VOC val (SBD ids from ``<sbd_dir>/{train,val}.txt``) and ``all``
lists every JPEG; COCO ``MSCOCO/images/<split>``; Cityscapes ``leftImg8bit/<split>``; CamVid ``<split>/``;
for a folder every image under it (the over-segmentation and label folders excluded); COCO-Stuff
``images/<split>`` or IIC's curated ids (``curated_<split>``); COCO panoptic the images of
``annotations/panoptic_<split>.json`` (labels converted to COCO-Stuff-27 PNGs on the way); Potsdam the ids of
``<split>.txt``; KITTI-STEP ``images/<split>/<sequence>``.

Column 2 is the ground truth when it exists, else ``-``. Column 3 is where the dataset keeps the
over-segmentation (:func:`hsg.data.catalogue.oversegmentation_path`), also when the mask does not exist
yet: ``pyenv/oversegment.py`` writes it there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hsg.data.catalogue import (IMAGE_SUFFIXES, SBD_DIRS, VOC_LABEL_DIRS, dataset_info, default_oversegmentation_dir,
                                 oversegmentation_path)
from hsg.data.lists import ABSENT
from hsg.errors import DataError


@dataclass
class Listing:
    """The rows of a list file and what was missing while building them."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    no_image: list[str] = field(default_factory=list)
    no_label: int = 0
    no_oversegmentation: int = 0


def _exists(root: Path, rel: str) -> bool:
    return (root / rel).is_file()


def _read_ids(path: Path) -> list[str]:
    """Ids of a split file: the first token of each non-empty line (VOC/SBD split format)."""
    if not path.is_file():
        raise DataError(path, "split file not found")
    ids = [Path(line.split()[0]).stem for line in path.read_text().splitlines() if line.split()]
    if not ids:
        raise DataError(path, "split file lists no ids")
    return ids


class _Builder:
    def __init__(self, root: Path, dataset: str, folder: str | None, skip_missing: bool) -> None:
        self.root, self.dataset, self.skip_missing = root, dataset, skip_missing
        self.folder = folder or default_oversegmentation_dir(dataset)
        self.listing = Listing()

    def add(self, image_rel: str, label_rel: str | None) -> None:
        mask_rel = oversegmentation_path(self.dataset, image_rel, self.folder)
        if not _exists(self.root, mask_rel):
            self.listing.no_oversegmentation += 1
            if self.skip_missing:
                return
        if label_rel is None:
            self.listing.no_label += 1
        self.listing.rows.append((image_rel, label_rel or ABSENT, mask_rel))


# ------------------------------------------------------------------------------------------ VOC
def _sbd_dir(root: Path, given: str | None) -> Path:
    candidates = [given] if given else list(SBD_DIRS)
    for rel in candidates:
        path = Path(rel) if os.path.isabs(rel) else root / rel
        if path.is_dir():
            return path
    raise DataError(root, f"no SBD folder for split train_aug (looked for {', '.join(candidates)}); pass --sbd_dir")


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


def _list_voc(b: _Builder, split: str, label_dir: str | None, sbd_dir: str | None) -> None:
    if not (b.root / "VOC2012" / "JPEGImages").is_dir():
        raise DataError(b.root / "VOC2012" / "JPEGImages", "not found; --data_dir must be the VOCdevkit folder")
    label_dirs = (label_dir,) if label_dir else VOC_LABEL_DIRS
    for image_id in voc_ids(b.root, split, sbd_dir):
        image_rel = f"VOC2012/JPEGImages/{image_id}.jpg"
        if not _exists(b.root, image_rel):
            b.listing.no_image.append(image_rel)
            continue
        label = next((f"VOC2012/{d}/{image_id}.png" for d in label_dirs
                      if _exists(b.root, f"VOC2012/{d}/{image_id}.png")), None)
        b.add(image_rel, label)


# ------------------------------------------------------------------------------------------ COCO
def _list_coco(b: _Builder, split: str) -> None:
    split = {"train": "train2017", "val": "val2017"}.get(split, split)
    folder = b.root / "MSCOCO" / "images" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must hold MSCOCO/images/<split>")
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            b.add(f"MSCOCO/images/{split}/{path.name}", None)


# ------------------------------------------------------------------------------------------ Cityscapes
def _cityscapes_label(root: Path, split: str, city: str, stem: str, classes: int = 19) -> str | None:
    """The ground truth of one frame: for the 19 classes the first of the trainId files and the labelIds
    file; for the 27 classes only the official labelIds file (trainIds have lost 8 of them)."""
    base = stem[: -len("_leftImg8bit")] if stem.endswith("_leftImg8bit") else stem
    candidates = (f"gtFine/{split}/{city}/{base}_gtFine_labelTrainIds.png",
                  f"gtFine/{split}/{city}/{base}_gtFine_labelIds.png",
                  f"gtFineId/{split}/{city}/{base}_gtFineId_labelIds.png")
    if classes == 27:
        candidates = candidates[1:2]
    for rel in candidates:
        if _exists(root, rel):
            return rel
    return None


def _list_cityscapes(b: _Builder, split: str, classes: int = 19) -> None:
    folder = b.root / "leftImg8bit" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must be the Cityscapes folder (leftImg8bit/<split>)")
    for path in sorted(folder.glob("*/*_leftImg8bit.png")):
        city = path.parent.name
        b.add(f"leftImg8bit/{split}/{city}/{path.name}", _cityscapes_label(b.root, split, city, path.stem, classes))


# ------------------------------------------------------------------------------------------ CamVid
def _list_camvid(b: _Builder, split: str) -> None:
    folder = b.root / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must be the CamVid folder (<split>/, <split>annot/)")
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = f"{split}annot/{path.stem}.png"
        b.add(f"{split}/{path.name}", label if _exists(b.root, label) else None)


# ------------------------------------------------------------------------------------------ COCO-Stuff
COCOSTUFF_CURATED_LIST = "Coco164kFull_Stuff_Coarse_7.txt"  # IIC's and PiCIE's curated image ids
_COCO_SPLITS = {"train": "train2017", "val": "val2017"}


def _list_cocostuff(b: _Builder, split: str) -> None:
    """COCO-Stuff 164k: ``images/<split>/<id>.jpg`` with ``annotations/<split>/<id>.png`` (fine ids 0..181,
    255 unlabelled); ``curated_<split>`` lists the ids of ``curated/<split>/Coco164kFull_Stuff_Coarse_7.txt``
    (the images of IIC, PiCIE and STEGO's COCO-Stuff-27 tables), the plain split every image on disk."""
    curated = split.startswith("curated_")
    split = split[len("curated_"):] if curated else split
    split = _COCO_SPLITS.get(split, split)
    folder = b.root / "images" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must be the COCO-Stuff folder (images/<split>, "
                                "annotations/<split>)")
    if curated:
        names = [f"{image_id}.jpg" for image_id in _read_ids(b.root / "curated" / split / COCOSTUFF_CURATED_LIST)]
    else:
        names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for name in names:
        image_rel = f"images/{split}/{name}"
        if not _exists(b.root, image_rel):
            b.listing.no_image.append(image_rel)
            continue
        label = f"annotations/{split}/{Path(name).stem}.png"
        b.add(image_rel, label if _exists(b.root, label) else None)


# ------------------------------------------------------------------------------------------ COCO panoptic
def _list_coco_panoptic(b: _Builder, split: str, label_dir: str | None) -> None:
    """COCO panoptic (``<split>/<id>.jpg``, ``annotations/panoptic_<split>.json`` and its PNG folder): each
    annotation is converted once to a COCO-Stuff-27 label PNG under ``<label_dir>/<split>/`` (default
    ``stuff27``; an existing file is kept), which column 2 names."""
    from hsg.data.panoptic import convert_panoptic_split

    split = _COCO_SPLITS.get(split, split)
    annotations = b.root / "annotations" / f"panoptic_{split}.json"
    if not annotations.is_file():
        raise DataError(annotations, "not found; --data_dir must be the COCO folder (<split>/, "
                                     "annotations/panoptic_<split>.json and annotations/panoptic_<split>/)")
    out_dir = Path(label_dir or "stuff27") / split
    for image_name, label_rel in convert_panoptic_split(annotations, b.root / "annotations" / f"panoptic_{split}",
                                                        b.root, out_dir.as_posix()):
        image_rel = f"{split}/{image_name}"
        if not _exists(b.root, image_rel):
            b.listing.no_image.append(image_rel)
            continue
        b.add(image_rel, label_rel)


# ------------------------------------------------------------------------------------------ Potsdam
POTSDAM_SPLITS = {"labelled_train": "labelled_train.txt", "unlabelled_train": "unlabelled_train.txt",
                  "labelled_test": "labelled_test.txt", "all": "all.txt",
                  "train": "labelled_train.txt", "val": "labelled_test.txt"}  # the last two: STEGO's names


def _list_potsdam(b: _Builder, split: str) -> None:
    """The field's Potsdam tiles: ids from ``<split>.txt`` (IIC's files), ``imgs/<id>.mat`` and, where it
    exists, ``gt/<id>.mat`` (the unlabelled split has none)."""
    if split not in POTSDAM_SPLITS:
        raise DataError(b.root, f"unknown Potsdam split '{split}'; choose from {', '.join(POTSDAM_SPLITS)}")
    if not (b.root / "imgs").is_dir():
        raise DataError(b.root / "imgs", "not found; --data_dir must be the potsdam folder (imgs/, gt/, "
                                         "labelled_train.txt, ...)")
    for image_id in _read_ids(b.root / POTSDAM_SPLITS[split]):
        image_rel = f"imgs/{image_id}.mat"
        if not _exists(b.root, image_rel):
            b.listing.no_image.append(image_rel)
            continue
        label = f"gt/{image_id}.mat"
        b.add(image_rel, label if _exists(b.root, label) else None)


# ------------------------------------------------------------------------------------------ KITTI-STEP
def _list_kitti_step(b: _Builder, split: str) -> None:
    """KITTI-STEP as deeplab2 lays it out: ``images/<split>/<sequence>/<frame>.png`` with
    ``panoptic_maps/<split>/<sequence>/<frame>.png`` (R = semantic id; none for the test split)."""
    folder = b.root / "images" / split
    if not folder.is_dir():
        raise DataError(folder, "not found; --data_dir must be the KITTI-STEP folder (images/<split>/<sequence>, "
                                "panoptic_maps/<split>/<sequence>)")
    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        sequence = path.parent.name
        label = f"panoptic_maps/{split}/{sequence}/{path.stem}.png"
        b.add(f"images/{split}/{sequence}/{path.name}", label if _exists(b.root, label) else None)


# ------------------------------------------------------------------------------------------ folder
def folder_images(folder: Path, exclude: tuple[Path, ...] = ()) -> Iterator[Path]:
    """Every image file under ``folder`` (sorted, hidden folders skipped), except inside ``exclude`` and
    inside the default over-segmentation folder: masks stored beside the photos are not photos."""
    skip = {p.resolve() for p in exclude} | {(folder / dataset_info("folder").oversegmentation_dir).resolve()}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (Path(dirpath) / d).resolve() not in skip)
        for name in sorted(filenames):
            if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                yield Path(dirpath) / name


def _list_folder(b: _Builder, image_dir: str, label_dir: str | None) -> None:
    folder = b.root / image_dir
    if not folder.is_dir():
        raise DataError(folder, "image folder not found")
    exclude = tuple(b.root / d for d in (b.folder, label_dir) if d)
    for path in folder_images(folder, exclude):
        image_rel = Path(os.path.relpath(path, b.root)).as_posix()
        label = None
        if label_dir:
            candidate = (Path(label_dir) / image_rel).with_suffix(".png").as_posix()
            label = candidate if _exists(b.root, candidate) else None
        b.add(image_rel, label)


def build_listing(dataset: str, data_dir: str | Path, split: str | None = None, oversegmentation_dir: str | None = None,
                  label_dir: str | None = None, sbd_dir: str | None = None, image_dir: str = ".",
                  skip_missing_oversegmentation: bool = False, cityscapes_classes: int = 19) -> Listing:
    """The rows of one split of ``dataset`` under ``data_dir`` (see the module docstring).
    ``cityscapes_classes`` 27 lists the labelIds files (Cityscapes-27), 19 the trainId files first."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(root, "data directory not found (--data_dir)")
    b = _Builder(root, dataset, oversegmentation_dir, skip_missing_oversegmentation)
    if dataset == "voc12":
        _list_voc(b, split or "train", label_dir, sbd_dir)
    elif dataset == "coco":
        _list_coco(b, split or "train2017")
    elif dataset == "cityscapes":
        _list_cityscapes(b, split or "train", cityscapes_classes)
    elif dataset == "cocostuff":
        _list_cocostuff(b, split or "train2017")
    elif dataset == "coco_panoptic":
        _list_coco_panoptic(b, split or "val2017", label_dir)
    elif dataset == "potsdam":
        _list_potsdam(b, split or "labelled_train")
    elif dataset == "kitti_step":
        _list_kitti_step(b, split or "train")
    elif dataset == "camvid":
        _list_camvid(b, split or "train")
    elif dataset == "folder":
        _list_folder(b, image_dir, label_dir)
    else:
        raise DataError(root, f"no list maker for dataset '{dataset}'")
    return b.listing


__all__ = ["Listing", "build_listing", "folder_images", "voc_ids"]
