"""Score a folder of label PNGs against ground truth: per-class IoU, mIoU, pixel accuracy; table + JSON.

Semantic mode (predictions are class ids), as the original ``benchmark_by_mIoU.py``::

    python pyenv/eval.py --pred_dir out/semantic_gray --gt_dir VOCdevkit/VOC2012/segcls --num_classes 21
    python pyenv/eval.py --pred_dir out/semantic_gray --gt_dir Cityscapes/gtFineId/val/all \\
        --num_classes 19 --string_replace leftImg8bit,gtFineId_labelIds

Evaluate exactly the samples of a list file (every sample needs a prediction)::

    python pyenv/eval.py --pred_dir out/semantic_gray --gt_list VOCdevkit/val.txt --data_dir VOCdevkit

CamVid (11 classes; its void label is 11, not the default 255)::

    python pyenv/eval.py --pred_dir out/semantic_gray --gt_list lists/val.txt --data_dir CamVid \\
        --num_classes 11 --ignore_index 11

Label-free predictions (cluster ids), Hungarian-matched to classes over the dataset::

    python pyenv/eval.py --mode cluster --pred_dir out/clusters --gt_dir VOCdevkit/VOC2012/segcls

Exit status: 0 on success, 1 on bad input (one line that names the file; nothing is written).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from hsg.data.catalogue import NAMED_CLASSES
from hsg.cli.common import parser_texts
from hsg.errors import EvalError, user_errors
from hsg.evaluation.crf import INSTALL_HINT, crf_available, refine_labels
from hsg.evaluation.pairs import Pair, Refine, pair_by_folder, pair_by_list, parse_string_replace
from hsg.evaluation.report import evaluate_pairing, format_report
from hsg.files import write_json

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--pred_dir", required=True, help="folder of prediction PNGs (searched recursively)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gt_dir", help="ground-truth folder; pairs by the path relative to --pred_dir")
    source.add_argument("--gt_list", help="list file 'image ground_truth [...]': the samples to evaluate")
    parser.add_argument("--data_dir", help="root of the paths in --gt_list (default: the list's folder)")
    parser.add_argument("--num_classes", type=int, default=21,
                        help="number of classes: 21 VOC, 19 Cityscapes, 11 CamVid")
    parser.add_argument("--ignore_index", type=int, default=255,
                        help="ground-truth value that is not scored: 255 for VOC and Cityscapes (trainIds), "
                             "11 for CamVid (its void class: pass --ignore_index 11)")
    parser.add_argument("--string_replace", default=",",
                        help="'old,new': replace in a prediction's relative path to get its ground truth")
    parser.add_argument("--mode", choices=("semantic", "cluster"), default="semantic",
                        help="semantic: predictions are class ids; cluster: cluster ids, Hungarian-matched")
    parser.add_argument("--class_names", choices=("auto", "none", *NAMED_CLASSES), default="auto",
                        help="names in the table: a dataset's, or auto (the dataset with --num_classes classes)")
    parser.add_argument("--original_quirks", action="store_true",
                        help="reproduce the original's numbers exactly (semantic mode only)")
    parser.add_argument("--out", "--out_json", dest="out", help="report file (default: <pred_dir>/../eval_<mode>.json)")
    parser.add_argument("--workers", type=int, default=min(8, 2 * (os.cpu_count() or 1)),
                        help="threads that read and count the PNGs (default: twice the CPU cores, at most 8)")
    parser.add_argument("--crf", action="store_true",
                        help="refine each prediction with a dense CRF first (needs pip install .[crf])")
    parser.add_argument("--image_dir", help="with --crf and --gt_dir: RGB images, named like the predictions")
    parser.add_argument("--crf_iterations", type=int, default=10, help="mean-field iterations of the CRF")
    return parser.parse_args(argv)


def _find_image(pair: Pair, image_dir: Path | None) -> Path:
    """The RGB image of a pair: from the list file, or ``image_dir/<prediction path>`` with an image suffix."""
    if pair.image is not None:
        return pair.image
    assert image_dir is not None
    stem = image_dir / Path(pair.name).with_suffix("")
    for suffix in IMAGE_SUFFIXES:
        if stem.with_suffix(suffix).is_file():
            return stem.with_suffix(suffix)
    raise EvalError(f"{pair.pred}: no image for the CRF at {stem}{{{','.join(IMAGE_SUFFIXES)}}}")


def build_crf_refine(args: argparse.Namespace) -> Refine:
    """A ``refine(pair, prediction)`` that reads the pair's image and runs the dense CRF on it."""
    if not crf_available():
        raise EvalError(INSTALL_HINT)
    image_dir = Path(args.image_dir) if args.image_dir else None
    if args.gt_dir and image_dir is None:
        raise EvalError("--crf with --gt_dir needs --image_dir (with --gt_list the images come from the list)")
    num_labels = args.num_classes if args.mode == "semantic" else None

    def refine(pair: Pair, pred: np.ndarray) -> np.ndarray:
        path = _find_image(pair, image_dir)
        try:
            with Image.open(path) as img:
                image = np.asarray(img.convert("RGB"))
        except OSError as exc:
            raise EvalError(f"{path}: cannot read image ({exc})") from exc
        if image.shape[:2] != pred.shape:
            raise EvalError(f"{path}: image size {image.shape[1]}x{image.shape[0]} differs from prediction "
                            f"{pair.pred} ({pred.shape[1]}x{pred.shape[0]})")
        return refine_labels(image, pred, num_labels=num_labels, iterations=args.crf_iterations)

    return refine


def run(args: argparse.Namespace) -> dict:
    """Pair, score, print and write the report; raises :class:`EvalError` before writing anything."""
    if args.workers < 1:
        raise EvalError(f"--workers must be at least 1, got {args.workers}")
    if args.gt_list:
        if parse_string_replace(args.string_replace) is not None:
            raise EvalError("--string_replace applies to --gt_dir only (a list names the ground truth)")
        pairing = pair_by_list(args.pred_dir, args.gt_list, args.data_dir)
    else:
        if args.data_dir:
            raise EvalError("--data_dir applies to --gt_list only")
        pairing = pair_by_folder(args.pred_dir, args.gt_dir, parse_string_replace(args.string_replace))
    refine = build_crf_refine(args) if args.crf else None
    report = evaluate_pairing(pairing, args.num_classes, args.mode, args.ignore_index, args.original_quirks,
                              args.workers, args.class_names, refine)
    report.update({"pred_dir": str(args.pred_dir), "gt_dir": args.gt_dir, "gt_list": args.gt_list,
                   "crf": bool(args.crf)})
    print(format_report(report))
    pred_dir = Path(args.pred_dir).resolve()
    out_json = Path(args.out) if args.out else pred_dir.parent / f"eval_{args.mode}.json"
    print(f"wrote {write_json(out_json, report)}")
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with user_errors("eval"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
