"""Optional dense-CRF refinement of a label map (Krähenbühl and Koltun, NIPS 2011) through ``pydensecrf2``.

The CRF snaps label borders to image edges. It is an extra: nothing else in ``hsg`` needs it, and the
package is only imported when a refinement is asked for. Install it with ``pip install .[crf]`` (or
``pip install pydensecrf2``; it builds from source and needs a C++ compiler).

The input is a hard label map (what the inference writes), so the unary term is built from the labels:
probability ``gt_prob`` for the given label and the rest spread evenly over the others. A pixel whose
label is not one of the refined labels (for example 255) gets a uniform unary and takes whatever label
the pairwise terms give it. The pairwise defaults are the DeepLab ones (appearance kernel ``sxy=80``,
``srgb=13``, weight 10; smoothness kernel ``sxy=3``, weight 3).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from hsg.errors import OptionalDependencyError

INSTALL_HINT = ("dense-CRF refinement needs the optional package pydensecrf2: "
                "pip install .[crf]  (or: pip install pydensecrf2; it compiles C++ code)")


def _densecrf() -> ModuleType:
    """Import ``pydensecrf.densecrf`` on first use, with an install hint instead of a bare ImportError."""
    try:
        import pydensecrf.densecrf as densecrf
    except ImportError as exc:
        raise OptionalDependencyError(f"{INSTALL_HINT} ({exc})") from exc
    return densecrf


def crf_available() -> bool:
    """Whether :func:`refine_labels` can run here."""
    try:
        _densecrf()
    except OptionalDependencyError:
        return False
    return True


def refine_labels(image: np.ndarray, labels: np.ndarray, num_labels: int | None = None,
                  iterations: int = 10, gt_prob: float = 0.7, smooth_sxy: float = 3.0,
                  smooth_weight: float = 3.0, appearance_sxy: float = 80.0, appearance_srgb: float = 13.0,
                  appearance_weight: float = 10.0) -> np.ndarray:
    """Refine a label map with a fully connected CRF on an ``[H, W, 3]`` uint8 RGB image.

    ``num_labels=None`` refines the ids that occur in the map (cluster ids: any values). With
    ``num_labels=C`` the labels are class ids ``0..C-1`` and other values are "unsure". Returns a map of
    the same shape and dtype as ``labels``.
    """
    densecrf = _densecrf()
    image = np.asarray(image)
    labels = np.asarray(labels)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"the CRF needs an [H, W, 3] uint8 RGB image, got {image.dtype} {image.shape}")
    if labels.ndim != 2 or labels.shape != image.shape[:2]:
        raise ValueError(f"label map {labels.shape} does not match the image size {image.shape[:2]}")
    if not 0.0 < gt_prob < 1.0:
        raise ValueError(f"gt_prob must lie strictly between 0 and 1, got {gt_prob}")

    if num_labels is None:
        values, index = np.unique(labels, return_inverse=True)
        index = index.reshape(-1)
        sure = np.ones(index.shape, dtype=bool)
    else:
        values = np.arange(num_labels)
        flat = labels.reshape(-1).astype(np.int64)
        sure = (flat >= 0) & (flat < num_labels)
        index = np.where(sure, flat, 0)
    n = len(values)
    if n < 2:
        return labels.copy()

    height, width = labels.shape
    other = -np.log((1.0 - gt_prob) / (n - 1))
    unary = np.full((n, height * width), other, dtype=np.float32)
    pixels = np.flatnonzero(sure)
    unary[index[pixels], pixels] = -np.log(gt_prob)
    unary[:, ~sure] = -np.log(1.0 / n)

    crf = densecrf.DenseCRF2D(width, height, n)
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    crf.addPairwiseGaussian(sxy=smooth_sxy, compat=smooth_weight)
    # A writable C-ordered copy: pydensecrf's Cython buffer refuses read-only arrays (e.g. from PIL).
    crf.addPairwiseBilateral(sxy=appearance_sxy, srgb=appearance_srgb, rgbim=np.array(image, order="C"),
                             compat=appearance_weight)
    q = np.asarray(crf.inference(iterations)).reshape(n, height, width)
    return values[q.argmax(axis=0)].astype(labels.dtype)


__all__ = ["INSTALL_HINT", "crf_available", "refine_labels"]
