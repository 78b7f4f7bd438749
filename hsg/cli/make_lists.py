"""Write list files (``image semantic_label oversegmentation``) from what is on disk.

    python pyenv/make_lists.py --dataset voc12 --data_dir VOCdevkit --split train_aug --out lists/voc12/train_aug.txt
    python pyenv/make_lists.py --dataset voc12 --data_dir VOCdevkit --split val --out lists/voc12/val.txt
    python pyenv/make_lists.py --dataset coco --data_dir DATAROOT --split train2017 --out lists/coco/train.txt
    python pyenv/make_lists.py --dataset cityscapes --data_dir Cityscapes --split train --out lists/cs/train.txt
    python pyenv/make_lists.py --dataset camvid --data_dir CamVid --split train --out lists/camvid/train.txt
    python pyenv/make_lists.py --dataset folder --data_dir my_photos --out lists/my_photos.txt
    python pyenv/make_lists.py --dataset cocostuff --data_dir cocostuff --split curated_val2017 --out lists/cs27_val.txt
    python pyenv/make_lists.py --dataset coco_panoptic --data_dir coco --split val2017 --out lists/pan27_val.txt
    python pyenv/make_lists.py --dataset cityscapes --cityscapes_classes 27 --data_dir Cityscapes --split val \
        --out lists/cs27_val.txt
    python pyenv/make_lists.py --dataset potsdam --data_dir potsdam --split labelled_test --out lists/potsdam_test.txt
    python pyenv/make_lists.py --dataset kitti_step --data_dir kitti-step --split val --out lists/kitti_val.txt

Paths in the list are relative to ``--data_dir`` (pass the same folder as ``--data_dir`` or
``dataset.data_dir`` later). Column 3 names where the over-segmentation belongs (for a folder:
``<data_dir>/oversegmentation/<path>.png``, where ``pyenv/oversegment.py --image_dir <data_dir>`` writes it
too); the tool reports how many images lack a label or an over-segmentation. The split rules are in
``hsg/data/listing.py``.
"""

from __future__ import annotations

import argparse
import sys

from hsg.data.catalogue import LIST_DATASETS, SBD_DIRS
from hsg.cli.common import parser_texts
from hsg.errors import DataError, user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(**parser_texts(__doc__))
    p.add_argument("--dataset", required=True, choices=LIST_DATASETS, help="which layout to read")
    p.add_argument("--data_dir", required=True, help="root the list paths are relative to (dataset.data_dir)")
    p.add_argument("--split", default=None, help="the split, per dataset, its default first: voc12: train, val, "
                                                 "trainval, train_aug or all; coco: train2017 or val2017; "
                                                 "cityscapes and camvid: train, val or test; cocostuff: train2017, "
                                                 "val2017, curated_train2017 or curated_val2017 (IIC's curated ids); "
                                                 "coco_panoptic: val2017 or train2017; potsdam: labelled_train, "
                                                 "unlabelled_train, labelled_test or all; kitti_step: train, val or "
                                                 "test; not used for a folder")
    p.add_argument("--cityscapes_classes", type=int, choices=(19, 27), default=19,
                   help="cityscapes: 19 lists the trainId files first (default); 27 lists the official "
                        "*_gtFine_labelIds.png files, which Cityscapes-27 (dataset.label_map cityscapes27) needs")
    p.add_argument("--oversegmentation_dir", "--seginst_dir", dest="oversegmentation_dir", default=None,
                   help="name of the over-segmentation folder (default: rf_0.25_48 for voc12 and coco, "
                        "pmi_0.05 for cityscapes, oversegmentation for the others)")
    p.add_argument("--label_dir", default=None,
                   help="voc12: label folder under VOC2012 (by default the first of segcls, SegmentationClassAug "
                        "and SegmentationClass that holds the file); folder: label folder under data_dir; "
                        "coco_panoptic: where the converted COCO-Stuff-27 PNGs are written under data_dir "
                        "(default stuff27)")
    p.add_argument("--sbd_dir", default=None, help=f"voc12 train_aug: SBD folder with train.txt and val.txt "
                                                   f"(default: the first of {', '.join(SBD_DIRS)} under data_dir)")
    p.add_argument("--image_dir", default=".", help="folder: the image folder under data_dir (default: data_dir)")
    p.add_argument("--skip_missing_oversegmentation", "--skip_missing_seginst", dest="skip_missing",
                   action="store_true", help="leave out images whose over-segmentation does not exist yet")
    p.add_argument("--out", required=True, help="list file to write")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with user_errors("make_lists"):
        from hsg.data.listing import build_listing
        from hsg.data.lists import write_list

        listing = build_listing(args.dataset, args.data_dir, args.split, args.oversegmentation_dir, args.label_dir,
                                args.sbd_dir, args.image_dir, args.skip_missing, args.cityscapes_classes)
        if not listing.rows:
            raise DataError(args.out, f"no images found for --dataset {args.dataset} --split {args.split} under "
                                      f"{args.data_dir}; nothing written")
        n = write_list(args.out, listing.rows)
        print(f"[make_lists] wrote {n} lines to {args.out}")
        if listing.no_image:
            print(f"[make_lists] {len(listing.no_image)} id(s) of the split have no image on disk and were left "
                  f"out, e.g. {listing.no_image[0]}")
        if listing.no_label:
            print(f"[make_lists] {listing.no_label} image(s) have no semantic label (column 2 is '-')")
        if listing.no_oversegmentation:
            action = "were left out" if args.skip_missing else \
                "are listed where the mask belongs; create them with pyenv/oversegment.py"
            print(f"[make_lists] {listing.no_oversegmentation} image(s) have no over-segmentation yet and {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
