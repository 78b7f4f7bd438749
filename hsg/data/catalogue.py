"""What hsg knows about each dataset, in one place: its classes, colours, label conversion and layout.

Everything dataset-specific that more than one part of the package needs lives here: the class names
(evaluation tables), the colour palettes (label pictures), the Cityscapes labelId -> trainId mapping
(ground-truth reading), where each dataset keeps its images, labels and over-segmentations (list making,
over-segmentation), and the split rules of VOC. Nothing here reads a file or imports torch.

Layouts (paths relative to the dataset root, the ``--data_dir`` of the tools):

==========  =======================================  =================================  ==============================================
dataset     images                                   semantic labels                    over-segmentations (folder name ``D``)
==========  =======================================  =================================  ==============================================
voc12       ``VOC2012/JPEGImages/<id>.jpg``          ``VOC2012/<segcls|...>/<id>.png``   ``VOC2012/D/<id>.png`` (D = rf_0.25_48)
coco        ``MSCOCO/images/<split>/<id>.jpg``       none (trained without labels)      ``MSCOCO/seginst/D/<split>/<id>.png``
cityscapes  ``leftImg8bit/<split>/<city>/<n>.png``   ``gtFine/<split>/<city>/...``      ``seginst/D/<n>.png`` (D = pmi_0.05; flat)
camvid      ``<split>/<n>.(jpg|png)``                ``<split>annot/<n>.png``           ``D/<split>/<n>.png`` (D = oversegmentation)
folder      any image under the root                 optional ``<label_dir>/<rel>.png``  ``D/<rel>.png`` (D = oversegmentation)
==========  =======================================  =================================  ==============================================

The voc12, coco and cityscapes over-segmentation folders are the original HSG's (``seginst``), so its
released over-segmentations are read where its downloads put them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

# Image files the tools read, by suffix (lower case): the one list for folders, lists and pictures.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm")

# ------------------------------------------------------------------------------------------ palettes


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map ``[n, 3]`` uint8 (bit ``j`` of a label's R/G/B thirds goes to bit ``7 - j``
    of the colour; 255 = (224, 224, 192)), identical to the original's ``misc/colormapvoc.mat``."""
    labels = np.arange(n, dtype=np.int64)
    cmap = np.zeros((n, 3), dtype=np.int64)
    for j in range(8):
        for channel in range(3):
            bit = (labels >> (3 * j + channel)) & 1
            cmap[:, channel] |= bit << (7 - j)
    return cmap.astype(np.uint8)


def _palette_of(colours: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """``[256, 3]`` uint8: the given colours for labels 0.., every other label black."""
    cmap = np.zeros((256, 3), dtype=np.uint8)
    cmap[: len(colours)] = np.asarray(colours, dtype=np.uint8)
    return cmap


# The official Cityscapes colours of the 19 evaluated classes, in trainId order (road ... bicycle).
CITYSCAPES_COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
    (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)
# The SegNet benchmark's CamVid colours (Sky ... Bicyclist; void 11 is black).
CAMVID_COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)


# ------------------------------------------------------------------------------------------ datasets
@dataclass(frozen=True)
class DatasetInfo:
    """The facts of one dataset. ``classes`` is empty where the dataset has no labels of its own."""

    name: str
    classes: tuple[str, ...]
    ignore_index: int
    palette: str  # a key of PALETTES
    oversegmentation_dir: str  # default folder name of its over-segmentations (see the module table)
    description: str


VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")
CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                      "motorcycle", "bicycle")
CAMVID_CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "sign symbol", "fence", "car",
                  "pedestrian", "bicyclist")
SYNTHETIC_CLASSES = ("background", "stripes", "dots", "checks", "rings")

DATASETS: dict[str, DatasetInfo] = {
    "voc12": DatasetInfo("voc12", VOC_CLASSES, 255, "voc", "rf_0.25_48", "PASCAL VOC 2012 (21 classes)"),
    "coco": DatasetInfo("coco", VOC_CLASSES, 255, "voc", "rf_0.25_48",
                        "MSCOCO images, trained without labels and evaluated with the VOC classes"),
    "cityscapes": DatasetInfo("cityscapes", CITYSCAPES_CLASSES, 255, "cityscapes", "pmi_0.05",
                              "Cityscapes (19 trainId classes)"),
    "camvid": DatasetInfo("camvid", CAMVID_CLASSES, 11, "camvid", "oversegmentation",
                          "CamVid driving scenes, the SegNet benchmark's 11 classes (11 = void)"),
    "folder": DatasetInfo("folder", (), 255, "voc", "oversegmentation", "any folder of images"),
    "synthetic": DatasetInfo("synthetic", SYNTHETIC_CLASSES, 255, "voc", "oversegmentation",
                             "the demo's generated pictures (hsg.demo.synthetic)"),
}
LIST_DATASETS = ("voc12", "coco", "cityscapes", "camvid", "folder")  # what pyenv/make_lists.py can list
NAMED_CLASSES = tuple(name for name, info in DATASETS.items() if info.classes)  # datasets with class names

PALETTES = {
    "voc": voc_palette,
    "cityscapes": lambda: _palette_of(CITYSCAPES_COLOURS),
    "camvid": lambda: _palette_of(CAMVID_COLOURS),
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset '{name}'; known: {', '.join(DATASETS)}") from None


def class_names(kind: str, num_classes: int) -> tuple[str, ...] | None:
    """Class names for a table: a dataset name, or ``auto`` (the dataset whose class count matches, when
    exactly one does), or ``none``. None when no names apply; ValueError on a count mismatch."""
    if kind == "none":
        return None
    if kind == "auto":
        matches = {info.classes for info in DATASETS.values() if len(info.classes) == num_classes}
        return matches.pop() if len(matches) == 1 else None
    names = dataset_info(kind).classes
    if len(names) != num_classes:
        raise ValueError(f"the {kind} classes are {len(names)}, not {num_classes}")
    return names


# ------------------------------------------------------------------------------------------ Cityscapes ids
# labelId -> trainId of the 34 Cityscapes labels (cityscapesScripts' labels.py); every label not listed is
# a void class and maps to 255.
_CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                         25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
CITYSCAPES_LABEL_IDS = 34  # labelIds 0..33 exist; larger values are not Cityscapes labels
CITYSCAPES_LABEL_TO_TRAIN = np.full(CITYSCAPES_LABEL_IDS, 255, dtype=np.int64)
for _label_id, _train_id in _CITYSCAPES_TRAIN_IDS.items():
    CITYSCAPES_LABEL_TO_TRAIN[_label_id] = _train_id


def is_cityscapes_label_ids(path: str) -> bool:
    """True for the official ``*_gtFine_labelIds.png`` files, which hold labelIds, not trainIds. (The
    ``*_labelTrainIds.png`` files and the original's ``*_gtFineId_labelIds.png`` already hold trainIds.)"""
    return str(path).endswith("_gtFine_labelIds.png")


def cityscapes_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a labelId map to trainIds (int64, 255 = ignore). ValueError on values that are not labelIds."""
    label_ids = np.asarray(label_ids)
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() >= CITYSCAPES_LABEL_IDS):
        bad = np.unique(label_ids[(label_ids < 0) | (label_ids >= CITYSCAPES_LABEL_IDS)])[:5].tolist()
        raise ValueError(f"values {bad} are not Cityscapes labelIds (0..{CITYSCAPES_LABEL_IDS - 1})")
    return CITYSCAPES_LABEL_TO_TRAIN[label_ids]


# ------------------------------------------------------------------------------------------ layouts
VOC_LABEL_DIRS = ("segcls", "SegmentationClassAug", "SegmentationClass")
SBD_DIRS = ("sbd/dataset", "SBD/dataset", "benchmark_RELEASE/dataset")


def _split_at(image_rel: str, marker: str, dataset: str) -> tuple[PurePosixPath, PurePosixPath]:
    parts = PurePosixPath(image_rel.replace(os.sep, "/")).parts
    if marker not in parts:
        raise ValueError(f"{dataset} image path {image_rel!r} has no '{marker}' folder")
    i = parts.index(marker)
    return PurePosixPath(*parts[:i]) if i else PurePosixPath(), PurePosixPath(*parts[i + 1:])


def oversegmentation_path(dataset: str, image_rel: str, folder: str | None = None) -> str:
    """Where ``dataset`` keeps the over-segmentation of ``image_rel`` (both relative to the dataset root),
    in the folder named ``folder`` (default: the dataset's own, see the module table)."""
    folder = folder or dataset_info(dataset).oversegmentation_dir
    if dataset == "voc12":
        prefix, rest = _split_at(image_rel, "JPEGImages", dataset)
        out = prefix / folder / rest.with_suffix(".png")
    elif dataset == "coco":
        prefix, rest = _split_at(image_rel, "images", dataset)
        out = prefix / "seginst" / folder / rest.with_suffix(".png")
    elif dataset == "cityscapes":
        prefix, rest = _split_at(image_rel, "leftImg8bit", dataset)
        out = prefix / "seginst" / folder / rest.with_suffix(".png").name
    elif dataset in ("camvid", "folder", "synthetic"):
        rel = PurePosixPath(image_rel.replace(os.sep, "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"{dataset} image path {image_rel!r} must be relative to the data root")
        out = PurePosixPath(folder) / rel.with_suffix(".png")
    else:
        raise ValueError(f"unknown dataset '{dataset}'; expected one of {', '.join(LIST_DATASETS)}")
    return str(out)


__all__ = ["CAMVID_CLASSES", "CITYSCAPES_CLASSES", "DATASETS", "DatasetInfo", "IMAGE_SUFFIXES", "LIST_DATASETS", "NAMED_CLASSES", "PALETTES",
           "SBD_DIRS", "SYNTHETIC_CLASSES", "VOC_CLASSES", "VOC_LABEL_DIRS", "class_names",
           "cityscapes_train_ids", "dataset_info", "is_cityscapes_label_ids", "oversegmentation_path",
           "voc_palette"]
