"""Edge map -> watershed superpixels -> merging hierarchy -> ultrametric contour map -> HSG regions.

The hierarchy follows the idea of gPb-owt-ucm (Arbelaez et al., TPAMI 2011) with higra doing the work:

1. Superpixels are the catchment basins of the edge map (higra's watershed on the 4-adjacency pixel
   graph, each pixel pair weighted by the stronger edge of the two pixels).
2. Adjacent regions are merged greedily, weakest common boundary first, where the strength of a
   boundary is the mean edge strength along it (average linkage on the region adjacency graph, with
   every boundary weighted by its length). This is what ``ucm_mean_pb`` computes in the original tools.
3. Regions smaller than a fraction of the image are folded into their parents: noisy edge maps leave
   many tiny basins that would otherwise eat the region budget of the threshold rule.
4. The merge heights become an ultrametric contour map in the BSDS ``ucm2`` layout:
   ``(2H+1) x (2W+1)``, pixels at ``[1::2, 1::2]`` (always 0), contours between them.

:func:`threshold_regions` then applies the original HSG rule to any ``ucm2`` (ours or the shipped
gPb-owt-ucm ones): start at 0.25, raise in 0.01 steps until at most 48 regions remain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.io import savemat

from hsg.files import atomic_write


START_THRESHOLD = 0.25
THRESHOLD_STEP = 0.01
MAX_REGIONS = 48
_EIGHT = np.ones((3, 3), dtype=bool)


def ucm_from_edges(edges: np.ndarray, min_region_fraction: float = 0.0) -> np.ndarray:
    """Build the ultrametric contour map (``(2H+1) x (2W+1)`` float64) of an ``[H, W]`` edge map.

    Contour values are mean edge strengths, so with edges in ``[0, 1]`` the map is in ``[0, 1]`` too.
    ``min_region_fraction`` removes every region smaller than that fraction of the image at all levels.
    """
    import higra as hg  # here, not at the top: it takes half a second, and the rule below does not need it

    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 2 or min(edges.shape) < 2:
        raise ValueError(f"edge map must be 2-D and at least 2x2, got shape {edges.shape}")
    if not np.isfinite(edges).all():
        raise ValueError("edge map contains NaN or infinite values")
    if not 0.0 <= min_region_fraction < 1.0:
        raise ValueError(f"min_region_fraction must be in [0, 1), got {min_region_fraction}")
    shape = edges.shape
    graph = hg.get_4_adjacency_graph(shape)
    pixel_weights = hg.weight_graph(graph, edges, hg.WeightFunction.max)
    superpixels = hg.labelisation_watershed(graph, pixel_weights)
    rag = hg.make_region_adjacency_graph_from_labelisation(graph, superpixels)
    mean_strength = hg.rag_accumulate_on_edges(rag, hg.Accumulators.mean, pixel_weights)
    length = hg.rag_accumulate_on_edges(rag, hg.Accumulators.counter, pixel_weights)
    if rag.num_edges() == 0:  # a flat edge map is one basin: no contour at all
        return np.zeros((2 * shape[0] + 1, 2 * shape[1] + 1))
    tree, altitudes = hg.binary_partition_tree_average_linkage(rag, mean_strength, length)
    min_area = min_region_fraction * shape[0] * shape[1]
    if min_area > 1:
        tree, altitudes = hg.filter_small_nodes_from_tree(tree, altitudes, min_area, rag)
    # Average linkage is monotone in exact arithmetic; enforce it so that rounding cannot break the
    # ultrametric property (a parent never lies below its children).
    altitudes = hg.accumulate_and_max_sequential(tree, altitudes, altitudes[:tree.num_leaves()],
                                                 hg.Accumulators.max)
    saliency = hg.saliency(tree, altitudes)  # back on the pixel graph through the RAG
    return np.asarray(hg.graph_4_adjacency_2_khalimsky(graph, saliency, shape, add_extra_border=True),
                      dtype=np.float64)


def ucm_regions(ucm2: np.ndarray, threshold: float) -> np.ndarray:
    """Regions of a ``ucm2`` at ``threshold``: 8-connected components of ``ucm2 <= threshold`` (as
    MATLAB's ``bwlabel``) read at the pixel centres, relabelled ``1..n`` in raster order."""
    labels, _ = ndimage.label(ucm2 <= threshold, structure=_EIGHT)
    pix = labels[1::2, 1::2]
    _, inverse = np.unique(pix, return_inverse=True)
    return inverse.reshape(pix.shape).astype(np.int64) + 1


def threshold_regions(ucm2: np.ndarray, max_regions: int = MAX_REGIONS, start: float = START_THRESHOLD,
                      step: float = THRESHOLD_STEP) -> tuple[np.ndarray, float]:
    """The original HSG threshold rule on a ``ucm2``: the regions at the first threshold
    ``start + k * step`` (k = 0, 1, ...) that gives at most ``max_regions`` regions.

    Regions are 8-connected components of ``ucm2 <= t`` read at the pixel centres (as MATLAB's
    ``bwlabel``), labelled ``1..n``. Returns ``(labels [H, W] int64, t)``. The region count can only
    fall as ``t`` rises, so the first such threshold is found by bisection (about 7 labelings instead of
    up to 100). Unlike the original, which stopped at ``t = 1.25`` whatever the count, the search goes on
    up to the map's maximum, where one region is left.
    """
    ucm2 = np.asarray(ucm2, dtype=np.float64)
    if ucm2.ndim != 2 or ucm2.shape[0] % 2 == 0 or ucm2.shape[1] % 2 == 0:
        raise ValueError(f"ucm2 must be 2-D of odd size (2H+1)x(2W+1), got {ucm2.shape}")
    if max_regions < 1:
        raise ValueError(f"max_regions must be >= 1, got {max_regions}")
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    if ucm2[1::2, 1::2].max() > start:
        raise ValueError("not an ultrametric contour map: its pixel cells ([1::2, 1::2]) must be <= the start "
                         f"threshold {start}, found {ucm2[1::2, 1::2].max():.4g}")

    def cut(k: int) -> np.ndarray:
        return ucm_regions(ucm2, start + k * step)

    labels = cut(0)
    if labels.max() <= max_regions:
        return labels, start
    # One step past the maximum (guarding against rounding) everything is one region.
    lo, hi = 0, int(np.ceil((ucm2.max() - start) / step)) + 1
    best = cut(hi)
    while hi - lo > 1:  # invariant: cut(lo) has too many regions, cut(hi) few enough
        mid = (lo + hi) // 2
        labels = cut(mid)
        if labels.max() <= max_regions:
            hi, best = mid, labels
        else:
            lo = mid
    return best, start + hi * step


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write region labels ``1..n`` as a uint16 PNG (the layout the datasets read), creating folders."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max:
        raise ValueError(f"{path}: labels must be a 2-D map with values in 0..65535")
    with atomic_write(path) as f:  # a crash never leaves a half-written mask that a later run would skip
        Image.fromarray(labels.astype(np.uint16)).save(f, format="PNG")


def write_ucm(path: str | Path, ucm2: np.ndarray) -> None:
    """Save a ``ucm2`` as a compressed MATLAB file with key ``ucm2``, like the BSDS500 ones, so that
    :func:`hsg.evaluation.bsds.read_ucm2` and MATLAB tools read it and any threshold can be cut later."""
    with atomic_write(path) as f:
        savemat(f, {"ucm2": np.asarray(ucm2, dtype=np.float64)}, do_compression=True)


__all__ = ["START_THRESHOLD", "THRESHOLD_STEP", "MAX_REGIONS", "ucm_from_edges", "ucm_regions", "threshold_regions",
           "write_labels", "write_ucm"]
