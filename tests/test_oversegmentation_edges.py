"""Edge detectors: the weight-free gradient detector's behaviour and the detector factory."""

from __future__ import annotations

import numpy as np
import pytest

from hsg.oversegmentation.batch import DETECTORS, make_detector
from hsg.oversegmentation.edges import GradientEdges


def _step_image(h: int = 40, w: int = 60, col: int = 30) -> np.ndarray:
    image = np.zeros((h, w, 3), dtype=np.uint8)
    image[:, :col] = (200, 40, 40)
    image[:, col:] = (40, 40, 200)
    return image


def test_output_is_a_boundary_strength_map() -> None:
    edges = GradientEdges()(_step_image())
    assert edges.shape == (40, 60) and edges.dtype == np.float32
    assert 0.0 <= edges.min() and edges.max() <= 1.0


def test_strongest_response_sits_on_the_step() -> None:
    edges = GradientEdges()(_step_image())
    assert set(np.argmax(edges, axis=1)) <= {29, 30}
    assert edges[:, 29:31].min() > 0.9  # a strong colour step saturates
    assert edges[:, :15].max() < 0.05 and edges[:, 45:].max() < 0.05  # flat areas stay quiet


def test_flipping_the_image_flips_the_edges() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    detector = GradientEdges()
    np.testing.assert_allclose(detector(image[:, ::-1].copy()), detector(image)[:, ::-1], atol=1e-5)
    np.testing.assert_allclose(detector(image[::-1].copy()), detector(image)[::-1], atol=1e-5)


def test_fine_texture_is_weaker_than_a_boundary() -> None:
    # Keeping only what every scale agrees on suppresses a 1-pixel checkerboard next to a real edge.
    image = _step_image()
    image[:, :20] = np.where((np.indices((40, 20)).sum(0) % 2 == 0)[..., None], 255, 0)
    edges = GradientEdges()(image)
    assert edges[5:-5, 5:15].max() < 0.5 * edges[5:-5, 29:31].min()


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32),
                                 np.zeros((1, 8, 3), np.uint8), [[1, 2, 3]]])
def test_bad_images_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="image"):
        GradientEdges()(bad)


def test_factory_names_its_choices() -> None:
    assert DETECTORS == ("gradient", "hed")
    assert isinstance(make_detector("gradient"), GradientEdges)
    with pytest.raises(ValueError, match="gradient, hed"):
        make_detector("canny")
    with pytest.raises(ValueError, match="sigmas"):
        GradientEdges(sigmas=())
