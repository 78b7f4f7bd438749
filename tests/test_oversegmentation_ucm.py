"""Ultrametric contour maps: the HSG threshold rule, the UCM property, small-region removal, files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hsg.evaluation.bsds import read_ucm2
from hsg.oversegmentation.ucm import ucm_regions
from hsg.oversegmentation.edges import GradientEdges
from hsg.oversegmentation.ucm import threshold_regions, ucm_from_edges, write_labels, write_ucm


def _three_region_ucm() -> np.ndarray:
    """A 2x3-pixel ucm2 (5x7): A = top-left two pixels, B = top-right pixel, C = bottom row.

    Contour A|B has strength 0.295, the contour around C 0.595. As in BSDS files, contours run on into
    the outer frame, and a corner carries the strongest contour through it."""
    u = np.zeros((5, 7))
    u[0:3, 4] = 0.295
    u[2, :] = 0.595
    return u


@pytest.mark.parametrize("max_regions, threshold, regions", [(3, 0.25, 3), (2, 0.30, 2), (1, 0.60, 1)])
def test_threshold_rule_on_a_synthetic_ucm(max_regions: int, threshold: float, regions: int) -> None:
    labels, t = threshold_regions(_three_region_ucm(), max_regions)
    assert t == pytest.approx(threshold)
    assert labels.max() == regions and set(np.unique(labels)) == set(range(1, regions + 1))
    if regions == 3:
        assert labels[0, 0] == labels[0, 1] != labels[0, 2] != labels[1, 0]
        assert labels[1, 0] == labels[1, 1] == labels[1, 2]


def test_threshold_rule_starts_at_025_and_steps_by_001() -> None:
    u = _three_region_ucm()
    u[u == 0.295] = 0.2  # already merged at the start threshold
    labels, t = threshold_regions(u, 2)
    assert t == 0.25 and labels.max() == 2
    u = _three_region_ucm()
    u[u == 0.295] = 0.263
    assert threshold_regions(u, 2)[1] == pytest.approx(0.27)


def _edges(seed: int = 0, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros(shape + (3,), dtype=np.uint8)
    h, w = shape
    for _ in range(12):  # random rectangles of random colours over noise
        y, x = rng.integers(0, h - 5), rng.integers(0, w - 5)
        image[y:y + rng.integers(5, h // 2), x:x + rng.integers(5, w // 2)] = rng.integers(0, 256, 3)
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    return GradientEdges()(image)


@pytest.mark.parametrize("max_regions", [1, 5, 48])
def test_bisection_finds_the_same_threshold_as_the_linear_search(max_regions: int) -> None:
    ucm2 = ucm_from_edges(_edges(1), 0.0)
    labels, t = threshold_regions(ucm2, max_regions)
    k = 0
    while ucm_regions(ucm2, 0.25 + k * 0.01).max() > max_regions:
        k += 1
    assert t == 0.25 + k * 0.01
    assert np.array_equal(labels, ucm_regions(ucm2, t))
    assert labels.max() <= max_regions


def test_ucm_layout_and_range() -> None:
    edges = _edges(2)
    ucm2 = ucm_from_edges(edges, 0.0)
    assert ucm2.shape == (2 * 60 + 1, 2 * 80 + 1)
    assert (ucm2[1::2, 1::2] == 0).all()  # pixel cells carry no contour
    assert 0 <= ucm2.min() and ucm2.max() <= edges.max() + 1e-9  # mean edge strengths
    assert ucm2.max() > 0


@pytest.mark.parametrize("min_region", [0.0, 0.01])
def test_ucm_property_coarser_regions_are_unions_of_finer_ones(min_region: float) -> None:
    ucm2 = ucm_from_edges(_edges(3), min_region)
    levels = np.unique(ucm2)
    cuts = np.linspace(levels[1] * 0.5, levels[-1], 25)
    finer = ucm_regions(ucm2, cuts[0])
    assert finer.max() > 10
    for t in cuts[1:]:
        coarser = ucm_regions(ucm2, t)
        # every finer region falls inside exactly one coarser region
        pairs = np.unique(np.stack([finer.ravel(), coarser.ravel()]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]
        finer = coarser


def test_small_regions_are_removed_at_every_level() -> None:
    edges = _edges(4)
    fine = ucm_regions(ucm_from_edges(edges, 0.0), 1e-9)
    kept = ucm_regions(ucm_from_edges(edges, 0.02), 1e-9)
    assert np.bincount(fine.ravel())[1:].min() < 0.02 * edges.size  # there was something to remove
    assert np.bincount(kept.ravel())[1:].min() >= 0.02 * edges.size


def test_flat_edge_map_is_a_single_region() -> None:
    ucm2 = ucm_from_edges(np.zeros((5, 7)))
    assert not ucm2.any()
    labels, t = threshold_regions(ucm2)
    assert t == 0.25 and (labels == 1).all()


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="pixel cells"):
        threshold_regions(np.full((5, 7), 0.5))
    with pytest.raises(ValueError, match="odd size"):
        threshold_regions(np.zeros((4, 7)))
    with pytest.raises(ValueError, match="NaN"):
        ucm_from_edges(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        ucm_from_edges(np.zeros((4, 4, 3)))


def test_labels_and_ucm_files_round_trip(tmp_path) -> None:
    ucm2 = ucm_from_edges(_edges(5), 0.002)
    labels, t = threshold_regions(ucm2, 20)
    write_labels(tmp_path / "a" / "mask.png", labels)
    write_ucm(tmp_path / "b" / "ucm.mat", ucm2)
    with Image.open(tmp_path / "a" / "mask.png") as im:
        assert im.mode == "I;16"
        assert np.array_equal(np.asarray(im), labels)
    again = read_ucm2(tmp_path / "b" / "ucm.mat")
    assert np.array_equal(again, ucm2)
    assert threshold_regions(again, 20)[1] == t
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ValueError, match="0..65535"):
        write_labels(tmp_path / "big.png", np.full((2, 2), 70000))


def test_shipped_gpb_ucm_goes_through_the_same_rule(shared_data) -> None:
    ucm2 = read_ucm2(shared_data / "BSDS500" / "ucm2" / "val" / "3096.mat")
    labels, t = threshold_regions(ucm2)
    assert labels.shape == ((ucm2.shape[0] - 1) // 2, (ucm2.shape[1] - 1) // 2)
    assert 1 <= labels.max() <= 48 and t >= 0.25
