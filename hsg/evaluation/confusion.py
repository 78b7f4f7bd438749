"""Semantic segmentation scores from one dataset confusion matrix: per-class IoU, mIoU, pixel accuracy.

Scores are computed from one confusion matrix summed over the whole dataset (not averaged per image), as
the original ``benchmark_by_mIoU.py`` does. The matrix is ``[C, K]``: rows are ground-truth classes
``0..C-1`` (pixels whose ground truth is ``ignore_index`` are not counted), columns are the raw predicted
values ``0..K-1`` (``K >= C``). Keeping raw prediction columns lets the same counts feed three readings:

* ours (default): a prediction outside ``[0, C)`` on a scored pixel is a miss: a false negative of the
  ground-truth class and a false positive of no class;
* ``original_quirks``: the original's numbers exactly, including its numpy-histogram quirk that a
  prediction equal to ``C`` is a false positive of class ``C - 1`` and larger ones vanish from the
  pixel-accuracy denominator;
* the label-free protocol (:mod:`hsg.evaluation.hungarian`), where columns are cluster ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsg.errors import EvalError


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int = 255,
                     gt_name: str = "ground truth", pred_name: str = "prediction") -> np.ndarray:
    """``[C, K]`` int64 pixel counts of (ground-truth class, raw predicted value) over non-ignored pixels.

    ``K`` is 256 for uint8 predictions, else ``max(C, largest prediction + 1)``. A ground-truth value outside
    ``[0, C) ∪ {ignore_index}`` raises :class:`EvalError` naming ``gt_name`` (the original silently
    ignored such pixels, which hides wrongly converted labels). Two uint8 maps are counted as 16-bit
    keys ``gt << 8 | pred``: a 256x256 joint histogram costs less than masking the ignored pixels first.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise EvalError(f"{pred_name} has size {size_text(pred)} but {gt_name} has size {size_text(gt)}")
    for name, arr in ((gt_name, gt), (pred_name, pred)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise EvalError(f"{name}: labels must be integers, got dtype {arr.dtype}")
    if num_classes < 1:
        raise EvalError(f"num_classes must be at least 1, got {num_classes}")
    if 0 <= ignore_index < num_classes:
        raise EvalError(f"ignore_index {ignore_index} lies inside the class range [0, {num_classes})")

    if gt.dtype == np.uint8 and pred.dtype == np.uint8 and num_classes <= 256:
        key = gt.astype(np.intp).ravel()
        key <<= 8
        key |= pred.ravel()
        joint = _count_keys(key, 1 << 16).reshape(256, 256)
        rows = np.flatnonzero(joint.sum(axis=1))
        bad = rows[(rows >= num_classes) & (rows != ignore_index)]
        if bad.size:
            raise EvalError(_bad_gt_message(gt_name, bad, num_classes, ignore_index))
        return joint[:num_classes].astype(np.int64)

    g = gt.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    scored = g != ignore_index
    bad_mask = scored & ((g < 0) | (g >= num_classes))
    if bad_mask.any():
        raise EvalError(_bad_gt_message(gt_name, np.unique(g[bad_mask]), num_classes, ignore_index))
    if p.size and p.min() < 0:
        raise EvalError(f"{pred_name}: predicted labels must be >= 0, got {p.min()}")
    width = max(num_classes, int(p.max()) + 1 if p.size else 0)
    rows_idx = np.where(scored, g, num_classes)  # ignored pixels go to a spare row that is dropped
    joint = _count_keys(rows_idx * width + p, (num_classes + 1) * width)
    return joint.reshape(num_classes + 1, width)[:num_classes]


def _count_keys(keys: np.ndarray, minlength: int) -> np.ndarray:
    """``np.bincount`` of 1-D non-negative keys, counted per run of equal keys when runs are long.

    Label maps are piecewise constant, so consecutive pixels hit the same bin and a plain ``bincount``
    stalls on the repeated increment; counting one weighted entry per run of equal keys is about twice as
    fast on VOC masks. Noisy maps (many short runs) take the plain path.
    """
    if keys.size == 0:
        return np.zeros(minlength, dtype=np.int64)
    ends = np.flatnonzero(keys[1:] != keys[:-1])
    if ends.size > keys.size // 8:
        return np.bincount(keys, minlength=minlength)
    last = np.empty(ends.size + 1, dtype=np.intp)
    last[:-1] = ends
    last[-1] = keys.size - 1
    lengths = np.diff(last, prepend=-1)
    return np.bincount(keys[last], weights=lengths, minlength=minlength).astype(np.int64)


def size_text(arr: np.ndarray) -> str:
    return "x".join(str(s) for s in arr.shape[::-1]) + " (WxH)" if arr.ndim == 2 else str(arr.shape)


def _bad_gt_message(name: str, values: np.ndarray, num_classes: int, ignore_index: int) -> str:
    shown = ", ".join(str(int(v)) for v in values[:10]) + (" ..." if len(values) > 10 else "")
    return (f"{name}: ground-truth values {shown} are outside the classes [0, {num_classes}) and the "
            f"ignore label {ignore_index}; check --num_classes and --ignore_index, or convert the labels "
            "(for example Cityscapes labelIds to trainIds)")


def add_confusion(total: np.ndarray | None, conf: np.ndarray) -> np.ndarray:
    """Sum two ``[C, K]`` matrices whose prediction widths ``K`` may differ (zero-padded)."""
    if total is None:
        return conf.copy()
    if total.shape[1] < conf.shape[1]:
        total = np.pad(total, ((0, 0), (0, conf.shape[1] - total.shape[1])))
    total[:, : conf.shape[1]] += conf
    return total


def semantic_scores(confusion: np.ndarray, original_quirks: bool = False) -> dict[str, Any]:
    """IoU per class, mIoU and pixel accuracy (all in percent) from a ``[C, K >= C]`` confusion matrix.

    Keys: ``tp``, ``gt_pixels`` (TP+FN), ``pred_pixels`` (TP+FP), ``iou`` (arrays of length C); ``miou``
    (mean over all C classes, absent ones counting 0, as the original); ``miou_present`` (mean over the
    classes that occur in the ground truth); ``pixel_acc``; ``num_present``; ``out_of_range_pixels``
    (scored pixels whose prediction is outside ``[0, C)``).

    ``original_quirks`` reproduces ``benchmark_by_mIoU.py`` bit for bit: a prediction equal to ``C`` adds
    a false positive to class ``C - 1``, IoU has ``+1e-12`` in the denominator, and pixel accuracy is
    ``sum(TP) / sum(TP+FP)`` (here times 100, where the original printed the fraction with a "%").
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    num_classes = confusion.shape[0]
    if confusion.ndim != 2 or confusion.shape[1] < num_classes:
        raise ValueError(f"expected a [C, K >= C] confusion matrix, got {confusion.shape}")
    in_range = confusion[:, :num_classes]
    tp = np.diagonal(in_range).astype(np.float64)
    gt_pixels = confusion.sum(axis=1).astype(np.float64)
    pred_pixels = in_range.sum(axis=0).astype(np.float64)
    out_of_range = int(confusion.sum() - in_range.sum())
    present = gt_pixels > 0

    if original_quirks:
        if confusion.shape[1] > num_classes:
            pred_pixels[num_classes - 1] += confusion[:, num_classes].sum()
        iou = tp / (gt_pixels + pred_pixels - tp + 1e-12) * 100.0
        miou = iou.sum() / num_classes
        pixel_acc = tp.sum() / (pred_pixels.sum() + 1e-12) * 100.0
    else:
        union = gt_pixels + pred_pixels - tp
        iou = np.divide(tp, union, out=np.zeros_like(tp), where=union > 0) * 100.0
        miou = iou.sum() / num_classes
        total = gt_pixels.sum()
        pixel_acc = tp.sum() / total * 100.0 if total > 0 else 0.0
    return {
        "tp": tp, "gt_pixels": gt_pixels, "pred_pixels": pred_pixels, "iou": iou,
        "miou": float(miou), "miou_present": float(iou[present].mean()) if present.any() else 0.0,
        "pixel_acc": float(pixel_acc), "num_present": int(present.sum()), "out_of_range_pixels": out_of_range,
    }


__all__ = ["add_confusion", "confusion_matrix", "semantic_scores", "size_text"]
