"""The BSDS boundary matching and score helpers on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.morphology import thin

from hsg.evaluation import bsds

# 300 x 400 pixels: diagonal 500, so the standard tolerance is 0.0075 * 500 = 3.75 pixels.
H, W = 300, 400


def _points(*cols: int, row: int = 150) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[row, list(cols)] = True
    return m


def test_identical_maps_match_everything() -> None:
    line = np.zeros((H, W), dtype=bool)
    line[100, 50:250] = True
    m1, m2 = bsds.correspond_pixels(line, line)
    assert np.array_equal(m1, line) and np.array_equal(m2, line)


@pytest.mark.parametrize("shift, matched", [(3, True), (4, False)])
def test_tolerance_is_three_quarters_percent_of_the_diagonal(shift: int, matched: bool) -> None:
    machine = np.zeros((H, W), dtype=bool)
    machine[100, 50:250] = True
    human = np.roll(machine, shift, axis=0)
    m1, m2 = bsds.correspond_pixels(machine, human)
    assert m1.sum() == (200 if matched else 0)
    assert m2.sum() == m1.sum()


def test_matching_is_one_to_one() -> None:
    m1, m2 = bsds.correspond_pixels(_points(10, 11), _points(10))
    assert m1.sum() == 1 and m2.sum() == 1


def test_maximum_cardinality_beats_greedy_nearest() -> None:
    # Machine pixels at 10 and 14, human pixels at 13 and 17. Pairing the nearest pair (14, 13) first
    # would leave 10 alone (17 is 7 px away); the optimum pairs 10-13 and 14-17.
    m1, m2 = bsds.correspond_pixels(_points(10, 14), _points(13, 17))
    assert m1.sum() == 2 and m2.sum() == 2


def test_among_maximum_matchings_the_closest_partner_wins() -> None:
    m1, m2 = bsds.correspond_pixels(_points(10), _points(12, 10))
    assert m1.sum() == 1
    assert np.array_equal(m2, _points(10))


def test_empty_maps_and_bad_shapes() -> None:
    empty = np.zeros((H, W), dtype=bool)
    m1, m2 = bsds.correspond_pixels(empty, _points(5))
    assert not m1.any() and not m2.any()
    with pytest.raises(ValueError, match="same shape"):
        bsds.correspond_pixels(empty, empty[:-1])


def test_boundary_counts_sum_over_human_maps() -> None:
    machine = _points(10, 14, 100)
    gts = [bsds.GroundTruth(np.ones((H, W), np.int64), _points(13, 17)),
           bsds.GroundTruth(np.ones((H, W), np.int64), _points(100, 200, 300))]
    c = bsds.boundary_counts([machine], np.array([0.5]), gts, thin_maps=False)
    assert c.cnt_r.tolist() == [3.0]  # 2 of the first map, 1 of the second
    assert c.sum_r.tolist() == [5.0]
    assert c.cnt_p.tolist() == [3.0]  # every machine pixel found a partner in some map
    assert c.sum_p.tolist() == [3.0]


def test_seg_to_boundaries_marks_the_pixel_left_of_a_vertical_edge() -> None:
    seg = np.ones((4, 6), dtype=np.int64)
    seg[:, 3:] = 2
    expected = np.zeros((4, 6), dtype=bool)
    expected[:, 2] = True
    assert np.array_equal(bsds.seg_to_boundaries(seg), expected)


def test_seg_to_boundaries_reproduces_the_shipped_human_boundaries(shared_data) -> None:
    # The BSDS groundTruth 'Boundaries' are the thinned seg2bdry of 'Segmentation'.
    for gt in bsds.read_ground_truth(shared_data / "BSDS500" / "bench" / "groundTruth" / "2018.mat"):
        assert np.array_equal(thin(bsds.seg_to_boundaries(gt.segmentation)), gt.boundaries)


def test_rand_index_and_voi_by_hand() -> None:
    a = np.array([[1, 1], [2, 2]])
    assert bsds.rand_index_voi(a, a) == pytest.approx((1.0, 0.0))
    # Against one region: 2 of the 6 pixel pairs agree; VOI = H(a) = 1 bit.
    assert bsds.rand_index_voi(a, np.ones_like(a)) == pytest.approx((1 / 3, 1.0))
    # Labels starting at 0 are shifted, as the official code does.
    assert bsds.rand_index_voi(a - 1, np.ones_like(a)) == pytest.approx((1 / 3, 1.0))


def test_best_f_interpolates_between_thresholds() -> None:
    t, r, p, f = bsds.best_f(np.array([0.2, 0.4]), np.array([1.0, 0.5]), np.array([0.5, 1.0]))
    # The official code tries 100 steps between neighbours (d = 0, 1/99, ..., 1), so it lands next to d = 1/2.
    assert f == pytest.approx(0.75, abs=1e-4)
    assert (r, p) == pytest.approx((0.75, 0.75), abs=5e-3)
    assert t == pytest.approx(0.3, abs=2e-3)


def test_average_precision_counts_unreached_recall_as_zero() -> None:
    # Precision falls linearly from 1 to 0.5 over recall 0.5 .. 1; recall below 0.5 never occurs.
    ap = bsds.average_precision(np.array([1.0, 0.5]), np.array([0.5, 1.0]))
    assert ap == pytest.approx(51 * 0.75 * 0.01)


def test_covering_of_a_perfect_and_a_trivial_segmentation() -> None:
    gt_seg = np.ones((4, 4), dtype=np.int64)
    gt_seg[:, 2:] = 2
    gts = [bsds.GroundTruth(gt_seg, bsds.seg_to_boundaries(gt_seg))]
    c = bsds.region_counts([gt_seg, np.ones_like(gt_seg)], np.array([1.0, 2.0]), gts)
    assert (c.cnt_r / c.sum_r).tolist() == pytest.approx([1.0, 0.5])  # each half overlaps the whole at 1/2
    assert c.cnt_r_best == pytest.approx(16.0)
    assert c.ri.tolist() == pytest.approx([1.0, 1 - 64 / 120])


def test_reading_a_file_without_the_key_names_it(tmp_path) -> None:
    from scipy.io import savemat

    path = tmp_path / "x.mat"
    savemat(path, {"other": np.zeros(3)})
    with pytest.raises(ValueError, match=r"x\.mat: no 'ucm2'"):
        bsds.read_ucm2(path)
