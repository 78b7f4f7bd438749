"""Semantic segmentation scores: dataset confusion matrix, per-class IoU, mIoU and pixel accuracy.

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

Folder scoring pairs prediction PNGs with ground-truth PNGs (by relative path, or through a list file),
reads and counts them in a thread pool (PNG decoding releases the GIL), and reports a table and JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from hsg.errors import EvalError
from hsg.evaluation.hungarian import match_clusters

VOC_CLASS_NAMES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
CITYSCAPES_CLASS_NAMES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)
_MAX_LISTED = 5  # bad files named in one error message before "... and N more"


# ---------------------------------------------------------------------------------------------- arrays
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
        raise EvalError(f"{pred_name} has size {_size(pred)} but {gt_name} has size {_size(gt)}")
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


def _size(arr: np.ndarray) -> str:
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


# ---------------------------------------------------------------------------------------------- files
@dataclass(frozen=True)
class Pair:
    """One scored sample: the prediction, its ground truth and (when known) the RGB image."""

    name: str
    pred: Path
    gt: Path
    image: Path | None = None


@dataclass(frozen=True)
class Pairing:
    """The samples to score, and how many ground-truth files of the folder were left out."""

    pairs: list[Pair]
    unevaluated_gt: int = 0


def read_label_png(path: str | Path) -> np.ndarray:
    """A label map from a single-channel PNG: 8-bit (grayscale or palette indices) or 16-bit.

    Palette images give their indices, not colours (the original's ``convert('L')`` would turn a palette
    label PNG into luminance values). Plain grayscale PNGs are decoded by OpenCV, which releases the GIL
    for the whole decode, so reading threads run in parallel; everything else goes through Pillow.
    """
    path = Path(path)
    if _png_header(path) in ((8, 0), (16, 0)):  # (bit depth, colour type 0 = grayscale)
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if array is not None and array.ndim == 2:
            return array
    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode not in ("L", "P", "1", "I", "I;16", "I;16L", "I;16B"):
                raise EvalError(f"{path}: a label PNG must be single-channel (8-bit grayscale, palette or "
                                f"16-bit), got mode {mode}")
            array = np.asarray(image)
    except FileNotFoundError as exc:
        raise EvalError(f"{path}: file not found") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise EvalError(f"{path}: cannot read image ({exc})") from exc
    return array.astype(np.uint8) if mode == "1" else array


def _png_header(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or None for anything else or unreadable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(26)
    except OSError:
        return None
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _label_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise EvalError(f"{folder}: {what} folder does not exist")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".png" and p.is_file())


def _listing(items: Sequence[str]) -> str:
    shown = "; ".join(items[:_MAX_LISTED])
    return shown + (f"; ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def parse_string_replace(spec: str | None) -> tuple[str, str] | None:
    """``"a,b"`` -> ``("a", "b")``; ``""`` or ``","`` (the original's default) -> no replacement."""
    if spec is None or spec in ("", ","):
        return None
    if spec.count(",") != 1:
        raise EvalError(f"--string_replace must be 'old,new' with exactly one comma, got '{spec}'")
    old, new = spec.split(",")
    if not old:
        raise EvalError(f"--string_replace '{spec}': the string to replace is empty")
    return old, new


def pair_by_folder(pred_dir: str | Path, gt_dir: str | Path,
                   string_replace: tuple[str, str] | None = None) -> Pairing:
    """Pair every PNG under ``pred_dir`` with ``gt_dir/<same relative path>`` (after ``string_replace``).

    The replacement applies to the path relative to ``pred_dir`` (the original replaced in the full
    path, which could also hit folder names). Ground-truth files that no prediction refers to are counted
    in ``unevaluated_gt``, since a ground-truth folder such as VOC ``segcls`` holds all splits.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    preds = _label_files(pred_dir, "prediction")
    if not preds:
        raise EvalError(f"{pred_dir}: no .png predictions found (searched recursively)")
    gts = _label_files(gt_dir, "ground-truth")
    pairs, missing = [], []
    for pred in preds:
        rel = pred.relative_to(pred_dir).as_posix()
        gt_rel = rel.replace(*string_replace) if string_replace else rel
        gt = gt_dir / gt_rel
        if gt.is_file():
            pairs.append(Pair(rel, pred, gt))
        else:
            missing.append(f"{pred} (expected {gt})")
    if missing:
        raise EvalError(f"{len(missing)} prediction(s) have no ground truth: {_listing(missing)}")
    used = {p.gt.resolve() for p in pairs}
    return Pairing(pairs, sum(1 for g in gts if g.resolve() not in used))


def pair_by_list(pred_dir: str | Path, gt_list: str | Path, data_dir: str | Path | None = None) -> Pairing:
    """Pair the samples of a list file (the project's ``image semantic_label [region]`` format) with
    their predictions.

    Paths in the list are relative to ``data_dir`` (default: the list's folder). The prediction of
    ``<image path>`` is ``pred_dir/<image path without extension>.png`` (a nested layout) or else
    ``pred_dir/<image file name without extension>.png`` (the flat folder that ``pyenv/inference.py``
    and the original write). Every list sample needs a prediction and every prediction a list sample.
    List errors (a line without a ground-truth column, a missing ground-truth file, an empty list) are
    ``hsg.data.DataError`` s naming the list line.
    """
    # Imported here: hsg.data pulls in torch, which the folder mode does not need to start quickly.
    from hsg.data.lists import read_list

    pred_dir, gt_list = Path(pred_dir), Path(gt_list)
    root = Path(data_dir) if data_dir is not None else gt_list.parent
    preds = _label_files(pred_dir, "prediction")
    samples = read_list(gt_list, root, require=("image", "semantic_label"), check_exists=("semantic_label",))
    pairs, missing, claimed = [], [], {}
    for sample in samples:
        candidates = [pred_dir / f"{sample.name}.png", pred_dir / f"{Path(sample.name).name}.png"]
        pred = next((c for c in candidates if c.is_file()), None)
        if pred is None:
            missing.append(f"{sample.where} {sample.semantic_label} (looked for {candidates[0]}"
                           + (f" and {candidates[1]})" if candidates[1] != candidates[0] else ")"))
            continue
        key = pred.resolve()
        if key in claimed:
            raise EvalError(f"{sample.where}: prediction {pred} also belongs to {claimed[key]}; give "
                            "predictions unique names (keep the image's relative path)")
        claimed[key] = sample.where
        pairs.append(Pair(pred.relative_to(pred_dir).as_posix(), pred, Path(sample.semantic_label),
                          Path(sample.image)))
    if missing:
        raise EvalError(f"{len(missing)} ground-truth file(s) have no prediction: {_listing(missing)}")
    extra = [str(p) for p in preds if p.resolve() not in claimed]
    if extra:
        raise EvalError(f"{len(extra)} prediction(s) are not in {gt_list}: {_listing(extra)}")
    return Pairing(pairs, 0)


# ---------------------------------------------------------------------------------------------- scoring
Refine = Callable[[Pair, np.ndarray], np.ndarray]


def score_pairs(pairs: Sequence[Pair], num_classes: int, ignore_index: int = 255, workers: int = 4,
                refine: Refine | None = None) -> np.ndarray:
    """The dataset ``[C, K]`` confusion matrix of ``pairs``, read and counted in ``workers`` threads.

    ``refine(pair, prediction)`` optionally rewrites each prediction before counting (dense CRF). The
    first bad file (in pair order) stops the run with an :class:`EvalError` naming it.
    """
    if not pairs:
        raise EvalError("nothing to evaluate: no prediction/ground-truth pairs")

    def count(pair: Pair) -> np.ndarray:
        gt = read_label_png(pair.gt)
        pred = read_label_png(pair.pred)
        if gt.shape != pred.shape:
            raise EvalError(f"{pair.pred}: prediction has size {_size(pred)} but its ground truth "
                            f"{pair.gt} has size {_size(gt)}")
        if refine is not None:
            pred = refine(pair, pred)
        return confusion_matrix(gt, pred, num_classes, ignore_index, gt_name=str(pair.gt),
                                pred_name=str(pair.pred))

    total: np.ndarray | None = None
    if workers <= 1:
        for pair in pairs:
            total = add_confusion(total, count(pair))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(count, pairs)
            try:
                for conf in results:
                    total = add_confusion(total, conf)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    assert total is not None
    return total


def class_names_for(kind: str, num_classes: int) -> list[str]:
    """Names for the table: ``'auto'`` picks VOC for 21 classes and Cityscapes for 19, else none."""
    if kind == "auto":
        kind = {21: "voc", 19: "cityscapes"}.get(num_classes, "none")
    if kind == "none":
        return [""] * num_classes
    names = {"voc": VOC_CLASS_NAMES, "cityscapes": CITYSCAPES_CLASS_NAMES}.get(kind)
    if names is None:
        raise EvalError(f"--class_names must be auto, voc, cityscapes or none, got '{kind}'")
    if len(names) != num_classes:
        raise EvalError(f"--class_names {kind} has {len(names)} classes but --num_classes is {num_classes}")
    return list(names)


def evaluate_pairing(pairing: Pairing, num_classes: int, mode: str = "semantic", ignore_index: int = 255,
                     original_quirks: bool = False, workers: int = 4, class_names: str = "auto",
                     refine: Refine | None = None) -> dict[str, Any]:
    """Score a pairing and return a JSON-ready report.

    ``mode='semantic'``: predictions are class ids. ``mode='cluster'``: predictions are free cluster ids,
    matched to classes over the dataset by :func:`hsg.evaluation.hungarian.match_clusters`.
    """
    if mode not in ("semantic", "cluster"):
        raise EvalError(f"mode must be 'semantic' or 'cluster', got '{mode}'")
    if original_quirks and mode != "semantic":
        raise EvalError("original_quirks applies to the semantic mode only")
    names = class_names_for(class_names, num_classes)
    confusion = score_pairs(pairing.pairs, num_classes, ignore_index, workers, refine)
    report: dict[str, Any] = {"mode": mode, "num_classes": num_classes, "ignore_index": ignore_index,
                              "original_quirks": original_quirks, "num_images": len(pairing.pairs),
                              "unevaluated_gt_files": pairing.unevaluated_gt}
    if mode == "cluster":
        used = np.flatnonzero(confusion.sum(axis=0))
        cluster_to_class, confusion = match_clusters(confusion)
        unmatched = [int(k) for k in used if int(k) not in cluster_to_class]
        report.update({"num_clusters": int(used.size),
                       "cluster_to_class": {str(k): v for k, v in sorted(cluster_to_class.items())},
                       "unmatched_clusters": unmatched})
    scores = semantic_scores(confusion, original_quirks)
    folded = np.concatenate([confusion[:, :num_classes], confusion[:, num_classes:].sum(1, keepdims=True)], 1)
    report.update({
        "miou": scores["miou"], "miou_present": scores["miou_present"], "pixel_acc": scores["pixel_acc"],
        "num_present_classes": scores["num_present"],
        ("unmatched_pixels" if mode == "cluster" else "pred_out_of_range_pixels"): scores["out_of_range_pixels"],
        "per_class": [{"id": c, "name": names[c], "iou": float(scores["iou"][c]),
                       "gt_pixels": int(scores["gt_pixels"][c]), "pred_pixels": int(scores["pred_pixels"][c]),
                       "tp": int(scores["tp"][c])} for c in range(num_classes)],
        "confusion": folded.tolist(),
    })
    return report


def format_report(report: dict[str, Any]) -> str:
    """A readable table of a report from :func:`evaluate_pairing`: per-class IoU, then the summary."""
    named = any(row["name"] for row in report["per_class"])
    head = f"{'id':>3}  {'class':<14} " if named else f"{'id':>3}  "
    lines = [head + f"{'IoU %':>7}  {'GT pixels':>12}  {'predicted':>12}", "-" * (len(head) + 37)]
    for row in report["per_class"]:
        name = f"{row['name']:<14} " if named else ""
        note = "  (absent from GT)" if row["gt_pixels"] == 0 else ""
        lines.append(f"{row['id']:>3}  {name}{row['iou']:7.2f}  {row['gt_pixels']:>12,}  "
                     f"{row['pred_pixels']:>12,}{note}")
    lines.append("-" * (len(head) + 37))
    lines.append(f"mIoU (all {report['num_classes']} classes): {report['miou']:.2f}%")
    lines.append(f"mIoU ({report['num_present_classes']} classes present in GT): {report['miou_present']:.2f}%")
    lines.append(f"pixel accuracy: {report['pixel_acc']:.2f}%")
    lines.append(f"images: {report['num_images']}")
    if report["mode"] == "cluster":
        lines.append(f"clusters: {report['num_clusters']} ({len(report['unmatched_clusters'])} unmatched, "
                     f"{report['unmatched_pixels']:,} pixels counted as wrong)")
    elif report["original_quirks"]:
        lines.append("original_quirks: scored as the original benchmark_by_mIoU.py (a prediction equal to "
                     "num_classes counts for the last class; pixel accuracy = sum TP / sum predicted)")
    elif report["pred_out_of_range_pixels"]:
        lines.append(f"note: {report['pred_out_of_range_pixels']:,} scored pixels have a prediction outside "
                     f"[0, {report['num_classes']}) and count as misses")
    if report["unevaluated_gt_files"]:
        lines.append(f"note: {report['unevaluated_gt_files']} ground-truth files have no prediction and were "
                     "not evaluated (pass --gt_list to require every sample of a split)")
    return "\n".join(lines)
