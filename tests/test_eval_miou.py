"""Confusion matrix, IoU, mIoU and pixel accuracy: hand-computed cases and the original's parity fixture."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_parity

from hsg.evaluation.confusion import add_confusion, confusion_matrix, semantic_scores
from hsg.errors import EvalError

# 3 classes, ignore 255. Scored pairs (gt, pred): (0,0) (0,1) (1,1) (1,1) (2,2) (2,0) (2,255) (0,0) (1,3) (1,1);
# the two pixels with GT 255 (predictions 2 and 1) are not scored.
GT = np.array([[0, 0, 1, 255],
               [1, 2, 2, 255],
               [2, 0, 1, 1]], dtype=np.uint8)
PRED = np.array([[0, 1, 1, 2],
                 [1, 2, 0, 1],
                 [255, 0, 3, 1]], dtype=np.uint8)
HAND_FOLDED = np.array([[2, 1, 0, 0],    # columns: predicted 0, 1, 2, outside [0, 3)
                        [0, 3, 0, 1],
                        [1, 0, 1, 1]])


def _fold(conf: np.ndarray, num_classes: int) -> np.ndarray:
    return np.concatenate([conf[:, :num_classes], conf[:, num_classes:].sum(1, keepdims=True)], axis=1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.uint16])
def test_confusion_matrix_by_hand(dtype: type) -> None:
    conf = confusion_matrix(GT.astype(dtype), PRED.astype(dtype), num_classes=3)
    assert conf.shape[0] == 3 and conf.shape[1] >= 4
    np.testing.assert_array_equal(_fold(conf, 3), HAND_FOLDED)
    assert conf[1, 3] == 1 and conf[2, 255] == 1  # raw prediction columns are kept


def test_scores_by_hand_ours() -> None:
    s = semantic_scores(confusion_matrix(GT, PRED, 3))
    np.testing.assert_array_equal(s["tp"], [2, 3, 1])
    np.testing.assert_array_equal(s["gt_pixels"], [3, 4, 3])
    np.testing.assert_array_equal(s["pred_pixels"], [3, 4, 1])      # 3 and 255 are no class's false positive
    np.testing.assert_allclose(s["iou"], [50.0, 60.0, 100.0 / 3], rtol=1e-12)
    assert s["miou"] == pytest.approx((50 + 60 + 100 / 3) / 3, rel=1e-12)
    assert s["pixel_acc"] == pytest.approx(60.0, rel=1e-12)         # 6 right of 10 scored pixels
    assert s["out_of_range_pixels"] == 2


def test_scores_by_hand_original_quirks() -> None:
    s = semantic_scores(confusion_matrix(GT, PRED, 3), original_quirks=True)
    np.testing.assert_array_equal(s["pred_pixels"], [3, 4, 2])      # prediction == C counts for class C-1
    np.testing.assert_allclose(s["iou"], [50.0, 60.0, 25.0], rtol=1e-12)
    assert s["miou"] == pytest.approx(45.0, rel=1e-12)
    assert s["pixel_acc"] == pytest.approx(600.0 / 9, rel=1e-12)    # 255 leaves the denominator


def test_absent_classes_count_zero_and_present_mean() -> None:
    gt = np.array([[0, 0, 3, 3]], dtype=np.uint8)
    pred = np.array([[0, 1, 3, 3]], dtype=np.uint8)
    s = semantic_scores(confusion_matrix(gt, pred, 5))
    np.testing.assert_allclose(s["iou"], [50.0, 0.0, 0.0, 100.0, 0.0])
    assert s["miou"] == pytest.approx(150.0 / 5)
    assert s["num_present"] == 2 and s["miou_present"] == pytest.approx(75.0)


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_counting_paths_agree_with_reference(noise: float) -> None:
    """Piecewise-constant maps take the run-length path, noisy ones the plain one; both count exactly."""
    rng = np.random.default_rng(1)
    gt = np.repeat(np.repeat(rng.integers(0, 6, (5, 6)), 20, axis=0), 25, axis=1).astype(np.uint8)
    gt[gt == 5] = 255
    pred = np.roll(gt, 7, axis=1)
    flip = rng.random(gt.shape) < noise
    pred[flip] = rng.integers(0, 256, flip.sum())
    reference = np.zeros((5, 256), np.int64)
    scored = gt != 255
    np.add.at(reference, (gt[scored].astype(np.int64), pred[scored].astype(np.int64)), 1)
    for dtype in (np.uint8, np.int32):
        conf = confusion_matrix(gt.astype(dtype), pred.astype(dtype), 5)
        np.testing.assert_array_equal(conf[:, :256], reference)
        assert conf.dtype == np.int64


def test_add_confusion_pads_different_widths() -> None:
    a = confusion_matrix(GT.astype(np.int64), PRED.astype(np.int64), 3)   # width 256 (max pred 255)
    b = confusion_matrix(GT.astype(np.int64), np.minimum(PRED, 2).astype(np.int64), 3)  # width 3
    total = add_confusion(add_confusion(None, b), a)
    np.testing.assert_array_equal(total[:, :3], a[:, :3] + b)
    np.testing.assert_array_equal(total[:, 3:], a[:, 3:])


def test_ground_truth_out_of_range_names_source() -> None:
    gt = GT.copy()
    gt[0, 0] = 7
    for dtype in (np.uint8, np.int32):
        with pytest.raises(ValueError, match=r"gt\.png: ground-truth values 7 are outside"):
            confusion_matrix(gt.astype(dtype), PRED.astype(dtype), 3, gt_name="gt.png")
    with pytest.raises(EvalError, match="-3"):
        confusion_matrix(np.array([[0, -3]]), np.array([[0, 0]]), 3)


def test_bad_arrays() -> None:
    with pytest.raises(EvalError, match="size 4x2 .* size 4x3"):
        confusion_matrix(GT, PRED[:2], 3)
    with pytest.raises(EvalError, match="integers"):
        confusion_matrix(GT, PRED.astype(np.float32), 3)
    with pytest.raises(EvalError, match="ignore_index 1 lies inside"):
        confusion_matrix(GT, PRED, 3, ignore_index=1)
    with pytest.raises(EvalError, match=">= 0"):
        confusion_matrix(np.array([[0, 1]]), np.array([[0, -1]]), 3)


@pytest.mark.parametrize("setting", ["voc21", "cityscapes19"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_parity_original_quirks_bit_exact(parity_dir, setting: str, dtype: type) -> None:
    fixture = load_parity(parity_dir, "benchmark_miou.pt")
    num_classes = fixture["config"][setting]["num_classes"]
    total = None
    for pred, gt in zip(fixture["inputs"][setting]["pred"], fixture["inputs"][setting]["gt"]):
        total = add_confusion(total, confusion_matrix(gt.numpy().astype(dtype), pred.numpy().astype(dtype),
                                                      num_classes))
    s = semantic_scores(total, original_quirks=True)
    ref = fixture["outputs"][setting]
    for ours, theirs in (("gt_pixels", "tp_fn"), ("pred_pixels", "tp_fp"), ("tp", "tp"), ("iou", "iou_percent")):
        np.testing.assert_array_equal(s[ours], ref[theirs].numpy())
    assert s["miou"] == ref["miou_percent"]
    assert s["pixel_acc"] == ref["pixel_acc_fraction"] * 100.0


@pytest.mark.parametrize("setting", ["voc21", "cityscapes19"])
def test_parity_inputs_ours_against_pixel_loop(parity_dir, setting: str) -> None:
    """Our reading of the same inputs, against a plain per-pixel count written independently here."""
    fixture = load_parity(parity_dir, "benchmark_miou.pt")
    num_classes = fixture["config"][setting]["num_classes"]
    tp = np.zeros(num_classes)
    gt_px = np.zeros(num_classes)
    pred_px = np.zeros(num_classes)
    total = None
    for pred_t, gt_t in zip(fixture["inputs"][setting]["pred"], fixture["inputs"][setting]["gt"]):
        pred, gt = pred_t.numpy(), gt_t.numpy()
        for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
            if g == 255:
                continue
            gt_px[g] += 1
            if p < num_classes:
                pred_px[p] += 1
                tp[g] += p == g
        total = add_confusion(total, confusion_matrix(gt, pred, num_classes))
    s = semantic_scores(total)
    iou = np.where(gt_px + pred_px - tp > 0, tp / np.maximum(gt_px + pred_px - tp, 1), 0) * 100
    np.testing.assert_allclose(s["iou"], iou, rtol=1e-12)
    assert s["miou"] == pytest.approx(iou.mean(), rel=1e-12)
    assert s["pixel_acc"] == pytest.approx(tp.sum() / gt_px.sum() * 100, rel=1e-12)
    # The fixture holds 8 pixels predicted as exactly num_classes: ours no longer credits them to a class.
    assert s["pred_pixels"][-1] == fixture["outputs"][setting]["tp_fp"][-1].item() - 8
