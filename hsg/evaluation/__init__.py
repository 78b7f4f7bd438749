"""Scoring predictions: mIoU from label PNGs, the label-free (Hungarian) protocol, optional dense CRF."""

from hsg.evaluation.crf import crf_available, refine_labels
from hsg.evaluation.hungarian import match_clusters
from hsg.evaluation.miou import (
    CITYSCAPES_CLASS_NAMES,
    VOC_CLASS_NAMES,
    Pair,
    Pairing,
    add_confusion,
    class_names_for,
    confusion_matrix,
    evaluate_pairing,
    format_report,
    pair_by_folder,
    pair_by_list,
    parse_string_replace,
    read_label_png,
    score_pairs,
    semantic_scores,
)

__all__ = [
    "CITYSCAPES_CLASS_NAMES",
    "VOC_CLASS_NAMES",
    "Pair",
    "Pairing",
    "add_confusion",
    "class_names_for",
    "confusion_matrix",
    "crf_available",
    "evaluate_pairing",
    "format_report",
    "match_clusters",
    "pair_by_folder",
    "pair_by_list",
    "parse_string_replace",
    "read_label_png",
    "refine_labels",
    "score_pairs",
    "semantic_scores",
]
