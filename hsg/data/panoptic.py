"""COCO panoptic annotations as COCO-Stuff-27 label maps.

COCO panoptic (133 categories: 80 things and 53 stuff, some stuff merged) states the supercategory of every
category in its JSON, and those supercategories are exactly the 27 of COCO-Stuff-27 (12 thing, 15 stuff).
So a panoptic annotation gives the 27-class ground truth without COCO-Stuff's own PNGs: every segment takes
the supercategory of its category; pixels of no segment (id 0) and crowd regions stay as their category
says (crowd segments carry a category too), unlabelled pixels are 255.

The conversion runs once per annotation (``pyenv/make_lists.py --dataset coco_panoptic``) and writes 8-bit
PNGs, so training, read-outs and scoring read plain label maps (``dataset.label_map: auto``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hsg.data.catalogue import COCOSTUFF27_CLASSES
from hsg.errors import DataError

VOID = 255
# Panoptic supercategories that name a thing and a stuff supercategory alike: the thing one gets the
# suffix COCOSTUFF27_CLASSES gives it.
_THING_SUFFIXED = {"food", "furniture"}


def stuff27_of_categories(categories: Sequence[Mapping[str, Any]], source: str = "categories") -> dict[int, int]:
    """``{category id: COCO-Stuff-27 index}`` from a panoptic JSON's ``categories`` (their ``supercategory``
    and ``isthing``). DataError on a supercategory that is not one of the 27."""
    out = {}
    for category in categories:
        try:
            name, is_thing, category_id = str(category["supercategory"]), bool(category["isthing"]), int(category["id"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(source, f"a category without id, supercategory or isthing: {category!r} ({e})") from None
        if is_thing and name in _THING_SUFFIXED:
            name = f"{name}-things"
        if name not in COCOSTUFF27_CLASSES:
            raise DataError(source, f"category {category_id} ({category.get('name')}) has supercategory "
                                    f"'{category['supercategory']}', not one of COCO-Stuff-27's")
        out[category_id] = COCOSTUFF27_CLASSES.index(name)
    return out


def panoptic_to_stuff27(panoptic: np.ndarray, segments_info: Sequence[Mapping[str, Any]],
                        category_to_27: Mapping[int, int], source: str | Path = "panoptic map") -> np.ndarray:
    """A panoptic id map (``R + 256 G + 256^2 B``, as :func:`hsg.data.io.read_label_map` with ``rgb_ids``
    returns it) and its ``segments_info`` -> uint8 COCO-Stuff-27 labels, 255 where no segment is."""
    panoptic = np.asarray(panoptic)
    out = np.full(panoptic.shape, VOID, dtype=np.uint8)
    known = set()
    for segment in segments_info:
        segment_id, category = int(segment["id"]), int(segment["category_id"])
        if category not in category_to_27:
            raise DataError(source, f"segment {segment_id} has category {category}, which the JSON's categories "
                                    f"do not list")
        out[panoptic == segment_id] = category_to_27[category]
        known.add(segment_id)
    stray = np.setdiff1d(np.unique(panoptic), [0, *known])
    if stray.size:
        raise DataError(source, f"segment ids {stray[:5].tolist()} are in the PNG but not in its segments_info")
    return out


def convert_panoptic_split(annotations: str | Path, mask_dir: str | Path, root: str | Path,
                           out_rel_dir: str) -> Iterator[tuple[str, str]]:
    """Convert every annotation of a panoptic JSON (masks in ``mask_dir``) to ``root/out_rel_dir/<name>.png``
    (an existing file is kept: the conversion is deterministic); yields ``(image file name, label path
    relative to root)`` in file-name order."""
    from hsg.data.io import read_label_map
    from hsg.files import write_image

    annotations = Path(annotations)
    try:
        content = json.loads(annotations.read_text())
        images = {image["id"]: image["file_name"] for image in content["images"]}
        records = sorted(content["annotations"], key=lambda r: r["file_name"])
        categories = content["categories"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(annotations, f"not a COCO panoptic annotation file: {e}") from None
    category_to_27 = stuff27_of_categories(categories, str(annotations))
    for record in records:
        mask = Path(mask_dir) / record["file_name"]
        label_rel = (Path(out_rel_dir) / record["file_name"]).with_suffix(".png").as_posix()
        if not (Path(root) / label_rel).is_file():
            panoptic = read_label_map(mask, rgb_ids=True)
            write_image(Path(root) / label_rel, panoptic_to_stuff27(panoptic, record["segments_info"],
                                                                    category_to_27, mask))
        image_name = images.get(record["image_id"], Path(record["file_name"]).stem + ".jpg")
        yield image_name, label_rel


__all__ = ["convert_panoptic_split", "panoptic_to_stuff27", "stuff27_of_categories"]
