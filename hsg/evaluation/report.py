"""A scored evaluation as a report: the JSON-ready dict that ``pyenv/eval.py`` writes, and its text table."""

from __future__ import annotations

from typing import Any

import numpy as np

from hsg.data.catalogue import class_names
from hsg.errors import EvalError
from hsg.evaluation.confusion import semantic_scores
from hsg.evaluation.hungarian import majority_clusters, match_clusters
from hsg.evaluation.pairs import Pairing, Refine, score_pairs


def class_names_for(kind: str, num_classes: int) -> list[str]:
    """Names for the table: a dataset of :mod:`hsg.data.catalogue`, ``'auto'`` (the dataset with that many
    classes) or ``'none'``; empty names where none apply."""
    try:
        names = class_names(kind, num_classes)
    except ValueError as e:
        raise EvalError(f"--class_names {kind}: {e} (--num_classes)") from None
    return list(names) if names else [""] * num_classes


MODES = ("semantic", "cluster", "overcluster")
CLUSTER_MODES = ("cluster", "overcluster")


def evaluate_pairing(pairing: Pairing, num_classes: int, mode: str = "semantic", ignore_index: int = 255,
                     original_quirks: bool = False, workers: int = 4, class_names: str = "auto",
                     refine: Refine | None = None, label_map: str | None = None) -> dict[str, Any]:
    """Score a pairing and return a JSON-ready report.

    ``mode='semantic'``: predictions are class ids. ``mode='cluster'``: predictions are free cluster ids,
    matched one-to-one to classes over the dataset by :func:`hsg.evaluation.hungarian.match_clusters`.
    ``mode='overcluster'``: free cluster ids, each mapped to its majority class over the dataset
    (:func:`hsg.evaluation.hungarian.majority_clusters`; IIC's overclustering). ``label_map`` converts the
    ground truth as it is read (see :func:`hsg.evaluation.pairs.score_pairs`).
    """
    if mode not in MODES:
        raise EvalError(f"mode must be one of {', '.join(MODES)}, got '{mode}'")
    if original_quirks and mode != "semantic":
        raise EvalError("original_quirks applies to the semantic mode only")
    names = class_names_for(class_names, num_classes)
    confusion = score_pairs(pairing.pairs, num_classes, ignore_index, workers, refine, label_map)
    report: dict[str, Any] = {"mode": mode, "num_classes": num_classes, "ignore_index": ignore_index,
                              "original_quirks": original_quirks, "num_images": len(pairing.pairs),
                              "unevaluated_gt_files": pairing.unevaluated_gt}
    if mode in CLUSTER_MODES:
        used = np.flatnonzero(confusion.sum(axis=0))
        cluster_to_class, confusion = (match_clusters if mode == "cluster" else majority_clusters)(confusion)
        unmatched = [int(k) for k in used if int(k) not in cluster_to_class]
        report.update({"num_clusters": int(used.size),
                       "cluster_to_class": {str(k): v for k, v in sorted(cluster_to_class.items())},
                       "unmatched_clusters": unmatched})
    scores = semantic_scores(confusion, original_quirks)
    folded = np.concatenate([confusion[:, :num_classes], confusion[:, num_classes:].sum(1, keepdims=True)], 1)
    report.update({
        "miou": scores["miou"], "miou_present": scores["miou_present"], "pixel_acc": scores["pixel_acc"],
        "num_present_classes": scores["num_present"],
        ("unmatched_pixels" if mode in CLUSTER_MODES else "pred_out_of_range_pixels"): scores["out_of_range_pixels"],
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
    if report["mode"] in CLUSTER_MODES:
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


__all__ = ["CLUSTER_MODES", "MODES", "class_names_for", "evaluate_pairing", "format_report"]
