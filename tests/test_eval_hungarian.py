"""The label-free protocol: Hungarian matching of cluster ids to classes over the dataset."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hsg.data.io import read_label_map
from hsg.evaluation.confusion import add_confusion, confusion_matrix, semantic_scores
from hsg.evaluation.hungarian import match_clusters
from hsg.evaluation.pairs import Pair, Pairing
from hsg.evaluation.report import evaluate_pairing
from hsg.vis.colormap import colorize


def _cluster_scores(pairs: list[tuple[np.ndarray, np.ndarray]], num_classes: int) -> tuple[dict, dict]:
    total = None
    for gt, pred in pairs:
        total = add_confusion(total, confusion_matrix(gt, pred, num_classes))
    mapping, mapped = match_clusters(total)
    return mapping, semantic_scores(mapped)


def test_permuted_perfect_prediction_scores_100() -> None:
    rng = np.random.default_rng(3)
    num_classes = 21
    perm = rng.permutation(256)[:num_classes]              # class c is cluster perm[c], ids up to 255
    images = []
    for _ in range(3):
        gt = rng.integers(0, num_classes, (40, 50)).astype(np.uint8)
        gt[:, :4] = 255                                    # ignored band with arbitrary cluster ids
        pred = perm[np.minimum(gt, num_classes - 1)].astype(np.uint8)
        pred[:, :4] = rng.integers(0, 256, (40, 4))
        images.append((gt, pred))
    mapping, s = _cluster_scores(images, num_classes)
    assert mapping == {int(perm[c]): c for c in range(num_classes)}
    assert s["miou"] == 100.0 and s["pixel_acc"] == 100.0


def test_more_clusters_than_classes_unmatched_count_wrong() -> None:
    # class 0: 6 px in cluster 5 and 2 px in cluster 7; class 1: 4 px in cluster 3.
    gt = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]], dtype=np.uint8)
    pred = np.array([[5, 5, 5, 5, 5, 5, 7, 7, 3, 3, 3, 3]], dtype=np.uint8)
    mapping, s = _cluster_scores([(gt, pred)], 2)
    assert mapping == {5: 0, 3: 1}
    np.testing.assert_allclose(s["iou"], [75.0, 100.0])     # cluster 7 is a miss, not a false positive
    assert s["miou"] == pytest.approx(87.5)
    assert s["pixel_acc"] == pytest.approx(1000 / 12)


def test_fewer_clusters_than_classes() -> None:
    # class 0 (4 px) -> cluster 0; classes 1 (3 px) and 2 (5 px) share cluster 1, which goes to class 2.
    gt = np.array([[0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2]], dtype=np.uint8)
    pred = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=np.uint8)
    mapping, s = _cluster_scores([(gt, pred)], 3)
    assert mapping == {0: 0, 1: 2}
    np.testing.assert_allclose(s["iou"], [100.0, 0.0, 62.5])
    assert s["pixel_acc"] == pytest.approx(75.0)


def test_matching_uses_dataset_totals_not_per_image() -> None:
    # Image 1 alone would match cluster 0 to class 1; over both images cluster 0 is mostly class 0.
    a = (np.array([[1, 1, 0]], np.uint8), np.array([[0, 0, 1]], np.uint8))
    b = (np.array([[0, 0, 0, 1]], np.uint8), np.array([[0, 0, 0, 1]], np.uint8))
    mapping, s = _cluster_scores([a, b], 2)
    assert mapping == {0: 0, 1: 1}
    assert s["pixel_acc"] == pytest.approx(400 / 7)


def test_cluster_mode_on_folders(tmp_path) -> None:
    """Cluster ids above the class range are legal in cluster mode; the report lists the matching."""
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(4):
        gt = rng.integers(0, 3, (12, 16)).astype(np.uint8)
        gt[0] = 255
        pred = np.choose(gt.clip(0, 2), [200, 17, 9]).astype(np.uint8)
        pred[1, :3] = 42                                   # an extra cluster: 3 px per image, unmatched
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / "pred").mkdir(exist_ok=True)
        colorize(gt).save(tmp_path / "gt" / f"{i}.png")
        colorize(pred).save(tmp_path / "pred" / f"{i}.png")
        pairs.append(Pair(f"{i}.png", tmp_path / "pred" / f"{i}.png", tmp_path / "gt" / f"{i}.png"))
    report = evaluate_pairing(Pairing(pairs), 3, mode="cluster", workers=2, class_names="none")
    assert report["cluster_to_class"] == {"9": 2, "17": 1, "200": 0}
    assert report["unmatched_clusters"] == [42] and report["num_clusters"] == 4
    assert report["unmatched_pixels"] == 12
    assert report["pixel_acc"] == pytest.approx(100 * (4 * 11 * 16 - 12) / (4 * 11 * 16))
    with pytest.raises(ValueError, match="original_quirks"):
        evaluate_pairing(Pairing(pairs), 3, mode="cluster", original_quirks=True)


def test_cluster_ids_above_255_from_16_bit_pngs(tmp_path) -> None:
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], dtype=np.uint8)
    pred = np.array([[1000, 1000, 7, 7], [500, 500, 60000, 7]], dtype=np.uint16)  # 60000: on an ignored pixel
    colorize(gt).save(tmp_path / "gt.png")
    assert cv2.imwrite(str(tmp_path / "pred.png"), pred)
    assert read_label_map(tmp_path / "pred.png").dtype == np.uint16
    report = evaluate_pairing(Pairing([Pair("p", tmp_path / "pred.png", tmp_path / "gt.png")]), 3,
                              mode="cluster", workers=1)
    assert report["cluster_to_class"] == {"7": 1, "500": 2, "1000": 0} and report["miou"] == 100.0
