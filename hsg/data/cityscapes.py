"""Cityscapes ground truth: the official labelId -> trainId mapping (19 classes, 255 = ignore).

The original HSG evaluated on pre-converted "gtFineId" files that hold trainIds. Here the official
``*_gtFine_labelIds.png`` files are converted on the fly, so the stock Cityscapes download works as it
is; ``*_gtFine_labelTrainIds.png`` and the original's ``*_gtFineId_labelIds.png`` (already trainIds,
despite the name) are read unchanged.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255

# labelId -> trainId of the 34 Cityscapes labels (cityscapesScripts `labels.py`); every label not
# listed is a void class and maps to IGNORE.
_TRAIN_IDS: dict[int, int] = {
    7: 0,    # road
    8: 1,    # sidewalk
    11: 2,   # building
    12: 3,   # wall
    13: 4,   # fence
    17: 5,   # pole
    19: 6,   # traffic light
    20: 7,   # traffic sign
    21: 8,   # vegetation
    22: 9,   # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}
NUM_LABEL_IDS = 34  # labelIds 0..33 exist; larger values are not Cityscapes labels

CLASS_NAMES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
               "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
               "motorcycle", "bicycle")


def _lookup_table() -> np.ndarray:
    table = np.full(NUM_LABEL_IDS, IGNORE, dtype=np.int64)
    for label_id, train_id in _TRAIN_IDS.items():
        table[label_id] = train_id
    return table


LABEL_TO_TRAIN = _lookup_table()


def is_label_ids_file(path: str) -> bool:
    """True for the official labelId files, which need :func:`label_ids_to_train_ids`."""
    return str(path).endswith("_gtFine_labelIds.png")


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a labelId map to trainIds (int64). Raises ValueError on values that are not labelIds."""
    label_ids = np.asarray(label_ids)
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() >= NUM_LABEL_IDS):
        bad = np.unique(label_ids[(label_ids < 0) | (label_ids >= NUM_LABEL_IDS)])[:5].tolist()
        raise ValueError(f"values {bad} are not Cityscapes labelIds (0..{NUM_LABEL_IDS - 1})")
    return LABEL_TO_TRAIN[label_ids]


__all__ = ["IGNORE", "CLASS_NAMES", "LABEL_TO_TRAIN", "NUM_LABEL_IDS", "is_label_ids_file",
           "label_ids_to_train_ids"]
