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
cocostuff   ``images/<split>/<id>.jpg``              ``annotations/<split>/<id>.png``   ``D/<split>/<id>.png`` (D = oversegmentation)
coco_pan.   ``<split>/<id>.jpg``                     ``stuff27/<split>/<id>.png`` (made)  ``D/<split>/<id>.png`` (D = oversegmentation)
potsdam     ``imgs/<id>.mat`` (key ``img``)          ``gt/<id>.mat`` (key ``gt``)        ``D/<id>.png`` (D = oversegmentation)
kitti_step  ``images/<split>/<seq>/<n>.png``        ``panoptic_maps/<split>/<seq>/<n>.png``  ``D/<split>/<seq>/<n>.png`` (D = oversegmentation)
==========  =======================================  =================================  ==============================================

Ground truth that is not stored as the evaluated classes is converted when it is read, by the label map
that ``dataset.label_map`` names (:data:`LABEL_MAPS`): COCO-Stuff's 182 fine ids to its 27 supercategories
(or the stuff-only 15, or the 3 of IIC), Cityscapes labelIds to 27 classes, Potsdam's 6 classes to 3, and
KITTI-STEP's panoptic PNGs to their semantic channel. COCO panoptic annotations are converted once, by
``pyenv/make_lists.py --dataset coco_panoptic``, into 27-class PNGs (the class of a segment is the
supercategory its category has in the panoptic JSON).

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


# The Cityscapes colours of labelIds 7..33 (cityscapesScripts' labels.py), the 27 classes of the
# unsupervised-segmentation papers (PiCIE, STEGO): road ... bicycle, parking, rail track, guard rail, ...
CITYSCAPES27_COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (250, 170, 160), (230, 150, 140), (70, 70, 70), (102, 102, 156),
    (190, 153, 153), (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153), (153, 153, 153),
    (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0),
    (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100), (0, 0, 230), (119, 11, 32),
)
# The ISPRS Potsdam colours: impervious surfaces (roads), building, low vegetation, tree, car, clutter.
POTSDAM_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (0, 0, 255), (0, 255, 255), (0, 255, 0), (255, 255, 0), (255, 0, 0),
)
# Potsdam-3: the colour of the merge's first member (roads and cars; buildings and clutter; vegetation and trees).
POTSDAM3_COLOURS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (0, 0, 255), (0, 255, 0))


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

# Cityscapes-27: labelIds 7..33 in order (cityscapesScripts' labels.py); labelIds 0..6 are void.
CITYSCAPES27_CLASSES = ("road", "sidewalk", "parking", "rail track", "building", "wall", "fence", "guard rail",
                        "bridge", "tunnel", "pole", "polegroup", "traffic light", "traffic sign", "vegetation",
                        "terrain", "sky", "person", "rider", "car", "truck", "bus", "caravan", "trailer", "train",
                        "motorcycle", "bicycle")
CITYSCAPES27_FIRST_LABEL_ID = 7

# COCO-Stuff 164k: the 182 fine classes of its 0-based PNGs (cocostuff's labels.txt; 255 = unlabelled).
# Ids 0..90 are the 91 COCO thing classes, of which 11 never occur in the annotations (COCO dropped them
# before release): street sign, hat, shoe, eye glasses, plate, mirror, window, desk, door, blender, hair
# brush. Ids 91..181 are the 91 stuff classes.
COCOSTUFF_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "street sign", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep",
    "cow", "elephant", "bear", "zebra", "giraffe", "hat", "backpack", "umbrella", "shoe", "eye glasses",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "plate", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", "mirror", "dining table", "window", "desk",
    "toilet", "door", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", "blender", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush", "hair brush",
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard", "carpet",
    "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard", "curtain",
    "desk-stuff", "dirt", "door-stuff", "fence", "floor-marble", "floor-other", "floor-stone", "floor-tile",
    "floor-wood", "flower", "fog", "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other",
    "hill", "house", "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin",
    "net", "paper", "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing",
    "railroad", "river", "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other",
    "skyscraper", "snow", "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent",
    "textile-other", "towel", "tree", "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel",
    "wall-stone", "wall-tile", "wall-wood", "water-other", "waterdrops", "window-blind", "window-other", "wood",
)
COCOSTUFF_UNUSED_THINGS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
COCOSTUFF_FIRST_STUFF = 91

# COCO-Stuff-27: the 12 thing and 15 stuff supercategories, in the order of IIC's ``_sorted_coarse_names``
# (things first), which PiCIE, STEGO, HP and CAUSE all use, so per-class tables line up with theirs.
COCOSTUFF27_CLASSES = ("electronic", "appliance", "food-things", "furniture-things", "indoor", "kitchen",
                       "accessory", "animal", "outdoor", "person", "sports", "vehicle",
                       "ceiling", "floor", "food-stuff", "furniture-stuff", "raw-material", "textile", "wall",
                       "window", "building", "ground", "plant", "sky", "solid", "structural", "water")
COCOSTUFF27_FIRST_STUFF = 12
COCOSTUFF15_CLASSES = COCOSTUFF27_CLASSES[COCOSTUFF27_FIRST_STUFF:]  # stuff only (IIC's COCO-Stuff-15)
COCOSTUFF3_CLASSES = ("sky", "plant", "ground")  # IIC's COCO-Stuff-3 (STEGO's coarse_labels)


def _cocostuff_fine_to_coarse() -> np.ndarray:
    """``[256]`` int64: COCO-Stuff fine id (0..181) -> COCO-Stuff-27 id, 255 -> 255 (unlabelled).

    The facts restated (not copied) from the fine-to-coarse map of IIC, as PiCIE and STEGO use it
    (mhamilton723/STEGO ``src/data.py``, ``Coco.fine_to_coarse``): the thing supercategories are runs of
    consecutive fine ids; the stuff classes are listed one by one. The 11 unused thing ids keep the
    supercategory of their neighbours, as in that map.
    """
    lut = np.full(256, 255, dtype=np.int64)
    thing_runs = {  # supercategory (COCOSTUFF27_CLASSES index) -> fine ids [first, last]
        9: (0, 0), 11: (1, 8), 8: (9, 14), 7: (15, 24), 6: (25, 32), 10: (33, 42), 5: (43, 50), 2: (51, 60),
        3: (61, 70), 0: (71, 76), 1: (77, 82), 4: (83, 90)}
    for coarse, (first, last) in thing_runs.items():
        lut[first:last + 1] = coarse
    stuff = {  # supercategory -> fine stuff ids
        12: (101, 102), 13: (100, 113, 114, 115, 116, 117), 14: (120, 121, 152, 169),
        15: (97, 106, 107, 109, 111, 122, 129, 132, 155, 160, 164), 16: (99, 131, 138, 142),
        17: (91, 92, 103, 104, 108, 130, 136, 140, 151, 166, 167), 18: (170, 171, 172, 173, 174, 175, 176),
        19: (179, 180), 20: (94, 95, 127, 150, 157, 165),
        21: (110, 124, 125, 135, 139, 143, 144, 146, 148, 153, 158), 22: (93, 96, 118, 123, 128, 133, 141, 162, 168),
        23: (105, 156), 24: (126, 134, 149, 159, 161, 181), 25: (98, 112, 137, 145, 163), 26: (119, 147, 154, 177, 178)}
    for coarse, fine_ids in stuff.items():
        lut[list(fine_ids)] = coarse
    return lut


COCOSTUFF_FINE_TO_COARSE = _cocostuff_fine_to_coarse()

# Potsdam (the field's pre-cut ISPRS tiles, IIC's preparation): 6 classes; Potsdam-3 merges them as IIC
# and STEGO do: roads and cars, buildings and clutter, low vegetation and trees.
POTSDAM_CLASSES = ("roads", "buildings", "low vegetation", "trees", "cars", "clutter")
POTSDAM3_CLASSES = ("roads and cars", "buildings and clutter", "vegetation and trees")
POTSDAM_TO_3 = {0: 0, 4: 0, 1: 1, 5: 1, 2: 2, 3: 2}

DATASETS: dict[str, DatasetInfo] = {
    "voc12": DatasetInfo("voc12", VOC_CLASSES, 255, "voc", "rf_0.25_48", "PASCAL VOC 2012 (21 classes)"),
    # The original trains on COCO train2017 without labels and scores the model on VOC: COCO has no
    # classes of its own in that recipe (name the VOC classes with class_names: voc12). The labelled COCO
    # benchmarks are the cocostuff* entries.
    "coco": DatasetInfo("coco", (), 255, "voc", "rf_0.25_48",
                        "MSCOCO train2017 images, trained on without labels (the recipe scores on VOC)"),
    "cocostuff27": DatasetInfo("cocostuff27", COCOSTUFF27_CLASSES, 255, "voc", "oversegmentation",
                               "COCO-Stuff-27: the 12 thing and 15 stuff supercategories of COCO-Stuff 164k"),
    "cocostuff15": DatasetInfo("cocostuff15", COCOSTUFF15_CLASSES, 255, "voc", "oversegmentation",
                               "COCO-Stuff-15: the stuff supercategories alone, things void (IIC)"),
    "cocostuff3": DatasetInfo("cocostuff3", COCOSTUFF3_CLASSES, 255, "voc", "oversegmentation",
                              "COCO-Stuff-3: sky, plant, ground, everything else void (IIC)"),
    "cityscapes": DatasetInfo("cityscapes", CITYSCAPES_CLASSES, 255, "cityscapes", "pmi_0.05",
                              "Cityscapes (19 trainId classes)"),
    "cityscapes27": DatasetInfo("cityscapes27", CITYSCAPES27_CLASSES, 255, "cityscapes27", "pmi_0.05",
                                "Cityscapes-27: labelIds 7..33, the rest void (PiCIE, STEGO)"),
    "potsdam6": DatasetInfo("potsdam6", POTSDAM_CLASSES, 255, "potsdam", "oversegmentation",
                            "Potsdam-6: the ISPRS Potsdam tiles as IIC cut them, 6 classes"),
    "potsdam3": DatasetInfo("potsdam3", POTSDAM3_CLASSES, 255, "potsdam3", "oversegmentation",
                            "Potsdam-3: roads+cars, buildings+clutter, vegetation+trees (IIC, STEGO)"),
    "kitti_step": DatasetInfo("kitti_step", CITYSCAPES_CLASSES, 255, "cityscapes", "oversegmentation",
                              "KITTI-STEP: the 19 Cityscapes trainIds from the panoptic maps' R channel"),
    "camvid": DatasetInfo("camvid", CAMVID_CLASSES, 11, "camvid", "oversegmentation",
                          "CamVid driving scenes, the SegNet benchmark's 11 classes (11 = void)"),
    "folder": DatasetInfo("folder", (), 255, "voc", "oversegmentation", "any folder of images"),
    "synthetic": DatasetInfo("synthetic", SYNTHETIC_CLASSES, 255, "voc", "oversegmentation",
                             "the demo's generated pictures (hsg.demo.synthetic)"),
}
# What pyenv/make_lists.py can list (layouts, not class sets: cocostuff lists serve cocostuff27/15/3).
LIST_DATASETS = ("voc12", "coco", "cityscapes", "camvid", "folder", "cocostuff", "coco_panoptic", "potsdam",
                 "kitti_step")
NAMED_CLASSES = tuple(name for name, info in DATASETS.items() if info.classes)  # datasets with class names

PALETTES = {
    "voc": voc_palette,
    "cityscapes": lambda: _palette_of(CITYSCAPES_COLOURS),
    "camvid": lambda: _palette_of(CAMVID_COLOURS),
    "cityscapes27": lambda: _palette_of(CITYSCAPES27_COLOURS),
    "potsdam": lambda: _palette_of(POTSDAM_COLOURS),
    "potsdam3": lambda: _palette_of(POTSDAM3_COLOURS),
}


# Layouts that are not a class set of DATASETS, with the default name of their over-segmentation folder.
_LAYOUT_OVERSEGMENTATION_DIRS = {"cocostuff": "oversegmentation", "coco_panoptic": "oversegmentation",
                                 "potsdam": "oversegmentation"}


def default_oversegmentation_dir(dataset: str) -> str:
    """The default over-segmentation folder name ``D`` of a layout (see the module table)."""
    if dataset in _LAYOUT_OVERSEGMENTATION_DIRS:
        return _LAYOUT_OVERSEGMENTATION_DIRS[dataset]
    return dataset_info(dataset).oversegmentation_dir


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


# ------------------------------------------------------------------------------------------ label maps
# How a ground-truth file becomes the evaluated classes (config key dataset.label_map). Each is the field's
# published conversion; the evaluated classes are the dataset of the same name in DATASETS.
LABEL_MAPS: dict[str, str] = {
    "auto": "the file's values are the classes, except Cityscapes *_gtFine_labelIds.png files, converted to "
            "the 19 trainIds",
    "cityscapes27": "Cityscapes *_gtFine_labelIds.png: labelIds 7..33 -> 0..26, labelIds 0..6 void",
    "cocostuff27": "COCO-Stuff 164k fine ids 0..181 -> the 27 supercategories",
    "cocostuff15": "COCO-Stuff 164k fine ids -> the 15 stuff supercategories, things void",
    "cocostuff3": "COCO-Stuff 164k fine ids -> sky, plant, ground, everything else void",
    "potsdam3": "Potsdam's 6 classes -> roads+cars, buildings+clutter, vegetation+trees",
    "kitti_step": "KITTI-STEP panoptic PNG -> its R channel (the 19 Cityscapes trainIds, 255 void)",
}
LABEL_MAP_CLASSES = {"cityscapes27": 27, "cocostuff27": 27, "cocostuff15": 15, "cocostuff3": 3, "potsdam3": 3,
                     "kitti_step": 19}


def _lookup(table: np.ndarray, labels: np.ndarray, valid: np.ndarray, what: str) -> np.ndarray:
    """``table[labels]`` after checking that every value is one the table knows (``valid``)."""
    if labels.size and (labels.min() < 0 or labels.max() >= len(valid) or not valid[labels].all()):
        bad = np.unique(labels[(labels < 0) | (labels >= len(valid))])
        inside = labels[(labels >= 0) & (labels < len(valid))]
        bad = np.union1d(bad, np.unique(inside[~valid[inside]]))[:8].tolist()
        raise ValueError(f"values {bad} are not {what}")
    return table[labels]


def _table(mapping: dict[int, int], size: int, keep_void: int | None = 255) -> tuple[np.ndarray, np.ndarray]:
    table = np.full(size, 255, dtype=np.int64)
    valid = np.zeros(size, dtype=bool)
    for source, target in mapping.items():
        table[source], valid[source] = target, True
    if keep_void is not None:
        valid[keep_void] = True
    return table, valid


def convert_labels(label_map: str, labels: np.ndarray, path: str) -> np.ndarray:
    """The ground truth ``labels`` read from ``path`` as the classes of ``label_map`` (int64, 255 void).

    ValueError (the caller names the file) on a value the map does not know, or on a file that cannot hold
    the map's classes (trainIds cannot give Cityscapes-27). ``kitti_step`` expects the R channel already
    taken (:func:`hsg.data.io.read_ground_truth` does it)."""
    labels = np.asarray(labels).astype(np.int64)
    if label_map == "auto":
        return cityscapes_train_ids(labels) if is_cityscapes_label_ids(path) else labels
    if label_map == "cityscapes27":
        if not is_cityscapes_label_ids(path):
            raise ValueError("dataset.label_map cityscapes27 needs the official *_gtFine_labelIds.png files; "
                             "trainId files have merged or dropped 8 of the 27 classes")
        mapping = {label_id: label_id - CITYSCAPES27_FIRST_LABEL_ID
                   for label_id in range(CITYSCAPES27_FIRST_LABEL_ID, CITYSCAPES_LABEL_IDS)}
        mapping.update({label_id: 255 for label_id in range(CITYSCAPES27_FIRST_LABEL_ID)})
        table, valid = _table(mapping, 256, keep_void=None)
        return _lookup(table, labels, valid, f"Cityscapes labelIds (0..{CITYSCAPES_LABEL_IDS - 1})")
    if label_map.startswith("cocostuff"):
        coarse = COCOSTUFF_FINE_TO_COARSE
        if label_map == "cocostuff15":
            coarse = np.where(coarse >= COCOSTUFF27_FIRST_STUFF, coarse - COCOSTUFF27_FIRST_STUFF, 255)
            coarse[255] = 255
        elif label_map == "cocostuff3":
            three = {COCOSTUFF27_CLASSES.index(name): i for i, name in enumerate(COCOSTUFF3_CLASSES)}
            coarse = np.array([three.get(int(c), 255) for c in coarse], dtype=np.int64)
        elif label_map != "cocostuff27":
            raise ValueError(f"unknown label map '{label_map}'; known: {', '.join(LABEL_MAPS)}")
        valid = np.zeros(256, dtype=bool)
        valid[:len(COCOSTUFF_CLASSES)] = valid[255] = True
        return _lookup(coarse, labels, valid, "COCO-Stuff fine ids (0..181, 255 unlabelled)")
    if label_map == "potsdam3":
        table, valid = _table(POTSDAM_TO_3, 256)
        return _lookup(table, labels, valid, "Potsdam classes (0..5, 255 void)")
    if label_map == "kitti_step":
        table, valid = _table({c: c for c in range(len(CITYSCAPES_CLASSES))}, 256)
        return _lookup(table, labels, valid, "KITTI-STEP semantic ids (0..18, 255 void)")
    raise ValueError(f"unknown label map '{label_map}'; known: {', '.join(LABEL_MAPS)}")


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
    folder = folder or default_oversegmentation_dir(dataset)
    if dataset == "voc12":
        prefix, rest = _split_at(image_rel, "JPEGImages", dataset)
        out = prefix / folder / rest.with_suffix(".png")
    elif dataset == "coco":
        prefix, rest = _split_at(image_rel, "images", dataset)
        out = prefix / "seginst" / folder / rest.with_suffix(".png")
    elif dataset == "cityscapes":
        prefix, rest = _split_at(image_rel, "leftImg8bit", dataset)
        out = prefix / "seginst" / folder / rest.with_suffix(".png").name
    elif dataset in ("camvid", "folder", "synthetic", "coco_panoptic"):
        rel = PurePosixPath(image_rel.replace(os.sep, "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"{dataset} image path {image_rel!r} must be relative to the data root")
        out = PurePosixPath(folder) / rel.with_suffix(".png")
    elif dataset == "cocostuff":
        _, rest = _split_at(image_rel, "images", dataset)
        out = PurePosixPath(folder) / rest.with_suffix(".png")
    elif dataset == "potsdam":
        _, rest = _split_at(image_rel, "imgs", dataset)
        out = PurePosixPath(folder) / rest.with_suffix(".png")
    elif dataset == "kitti_step":
        _, rest = _split_at(image_rel, "images", dataset)
        out = PurePosixPath(folder) / rest.with_suffix(".png")
    else:
        raise ValueError(f"unknown dataset '{dataset}'; expected one of {', '.join(LIST_DATASETS)}")
    return str(out)


__all__ = ["CAMVID_CLASSES", "CITYSCAPES27_CLASSES", "CITYSCAPES_CLASSES", "COCOSTUFF15_CLASSES",
           "COCOSTUFF27_CLASSES", "COCOSTUFF3_CLASSES", "COCOSTUFF_CLASSES", "COCOSTUFF_FINE_TO_COARSE",
           "LABEL_MAPS", "LABEL_MAP_CLASSES", "POTSDAM3_CLASSES", "POTSDAM_CLASSES", "POTSDAM_TO_3",
           "convert_labels", "default_oversegmentation_dir", "DATASETS", "DatasetInfo", "IMAGE_SUFFIXES", "LIST_DATASETS", "NAMED_CLASSES", "PALETTES",
           "SBD_DIRS", "SYNTHETIC_CLASSES", "VOC_CLASSES", "VOC_LABEL_DIRS", "class_names",
           "cityscapes_train_ids", "dataset_info", "is_cityscapes_label_ids", "oversegmentation_path",
           "voc_palette"]
