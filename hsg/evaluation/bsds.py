"""The BSDS500 benchmark (Arbelaez et al., TPAMI 2011) in Python: boundaries, covering, PRI and VOI.

It follows the official MATLAB benchmark step by step, so that its numbers can be compared with published
ones: a machine boundary map is thinned, its pixels are matched one-to-one to each human boundary map
within 0.75% of the image diagonal (a minimum-cost bipartite matching, like the official
``correspondPixels``), and the counts are summed over the human maps and the images. Region scores
compare the segmentation at each threshold with every human segmentation.

Inputs come in the three formats the official code reads: an ultrametric contour map ``ucm2`` of size
``(2H+1) x (2W+1)``, a soft boundary map in ``[0, 1]`` (``pb``), or a list of segmentations (``segs``).
Per-image results are :class:`BoundaryCounts` and :class:`RegionCounts`; :func:`collect_boundaries`
and :func:`collect_regions` turn a list of them into ODS / OIS / AP / covering / PRI / VOI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.io import loadmat
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from skimage.morphology import thin

from hsg.oversegmentation.ucm import ucm_regions

MAX_DIST = 0.0075  # matching tolerance, as a fraction of the image diagonal
OUTLIER_COST = 100.0  # cost of leaving a pixel unmatched, in units of the tolerance
_COST_SCALE = 100  # the official matcher works on integer costs: distance x 100, rounded


@dataclass(frozen=True)
class GroundTruth:
    """One human annotation: region labels ``1..k`` and its boundary map, both ``[H, W]``."""

    segmentation: np.ndarray
    boundaries: np.ndarray


@dataclass
class BoundaryCounts:
    """Per-threshold boundary counts of one image, as the official ``*_ev1.txt`` files.

    ``cnt_r / sum_r`` is recall (matched human boundary pixels over all of them, summed over the human
    maps) and ``cnt_p / sum_p`` precision (machine pixels matched to any human map over all machine pixels).
    """

    thresholds: np.ndarray
    cnt_r: np.ndarray
    sum_r: np.ndarray
    cnt_p: np.ndarray
    sum_p: np.ndarray


@dataclass
class RegionCounts:
    """Per-threshold region counts of one image, as the official ``*_ev2/3/4.txt`` files.

    ``cnt_r / sum_r`` is the covering of the human segmentations by the machine one, ``cnt_p / sum_p`` the
    reverse; ``cnt_r_best`` is the covering when every human region takes its best threshold; ``ri`` and
    ``voi`` are the Rand index and variation of information averaged over the human segmentations.
    """

    thresholds: np.ndarray
    cnt_r: np.ndarray
    sum_r: np.ndarray
    cnt_p: np.ndarray
    sum_p: np.ndarray
    cnt_r_best: float
    ri: np.ndarray
    voi: np.ndarray


# ----------------------------------------------------------------------------------------------- reading
def _loadmat(path: Path, key: str) -> np.ndarray:
    try:
        data = loadmat(str(path))
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: cannot read MATLAB file ({exc})") from exc
    if key not in data:
        raise ValueError(f"{path}: no '{key}' variable (has {sorted(k for k in data if not k.startswith('__'))})")
    return data[key]


def read_ground_truth(path: str | Path) -> list[GroundTruth]:
    """Read a BSDS ``groundTruth/*.mat`` file: one :class:`GroundTruth` per human annotator."""
    cell = _loadmat(Path(path), "groundTruth")
    out = []
    for entry in cell.ravel():
        try:
            seg = np.asarray(entry["Segmentation"][0, 0], dtype=np.int64)
            bdry = np.asarray(entry["Boundaries"][0, 0]).astype(bool)
        except (ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"{path}: groundTruth entries need 'Segmentation' and 'Boundaries'") from exc
        out.append(GroundTruth(seg, bdry))
    if not out:
        raise ValueError(f"{path}: empty groundTruth")
    return out


def read_ucm2(path: str | Path) -> np.ndarray:
    """Read an ultrametric contour map (key ``ucm2``, ``(2H+1) x (2W+1)``) from a ``.mat`` file."""
    ucm2 = np.asarray(_loadmat(Path(path), "ucm2"), dtype=np.float64)
    if ucm2.ndim != 2 or ucm2.shape[0] % 2 == 0 or ucm2.shape[1] % 2 == 0:
        raise ValueError(f"{path}: ucm2 must be a 2-D map of odd size (2H+1)x(2W+1), got {ucm2.shape}")
    return ucm2


def read_segs(path: str | Path) -> list[np.ndarray]:
    """Read a cell of segmentations (key ``segs``) from a ``.mat`` file."""
    cell = _loadmat(Path(path), "segs")
    return [np.asarray(s, dtype=np.int64) for s in cell.ravel()]


# ------------------------------------------------------------------------------------------- conversions
def ucm_thresholds(n: int) -> np.ndarray:
    """The official thresholds for soft inputs: ``n`` values evenly spaced strictly inside ``(0, 1)``."""
    if n < 1:
        raise ValueError(f"the number of thresholds must be >= 1, got {n}")
    return np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), n)


def ucm_boundary_strength(ucm2: np.ndarray) -> np.ndarray:
    """Pixel-grid boundary strength of a ``ucm2``: the contour cells right/below each pixel.

    The official benchmark samples ``ucm2(3:2:end, 3:2:end)``: the corner cell to the lower right of each
    pixel, which carries the strongest contour passing there.
    """
    return ucm2[2::2, 2::2]


def seg_to_boundaries(seg: np.ndarray) -> np.ndarray:
    """Boundary map of a segmentation on the pixel grid, as the official ``seg2bdry(seg, 'imageSize')``.

    A pixel is on the boundary when its label differs from the one below or to the right of it (its
    lower-right corner touches such an edge); the last row and column repeat the edges next to them.
    """
    seg = np.asarray(seg)
    h, w = seg.shape
    vert = np.zeros((h, w), dtype=bool)  # label changes between row i and i+1
    vert[:-1] = seg[:-1] != seg[1:]
    horz = np.zeros((h, w), dtype=bool)  # label changes between column j and j+1
    horz[:, :-1] = seg[:, :-1] != seg[:, 1:]
    big = np.zeros((2 * h + 1, 2 * w + 1), dtype=bool)
    big[2::2, 1::2] = vert
    big[1::2, 2::2] = horz
    big[2:-1:2, 2:-1:2] = horz[:-1, :-1] | horz[1:, :-1] | vert[:-1, :-1] | vert[:-1, 1:]
    big[0] = big[1]
    big[:, 0] = big[:, 1]
    big[-1] = big[-2]
    big[:, -1] = big[:, -2]
    return big[2::2, 2::2]


# ------------------------------------------------------------------------------------ boundary matching
def _disc_offsets(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = int(np.ceil(radius))
    dy, dx = np.mgrid[-k:k + 1, -k:k + 1]
    keep = dy * dy + dx * dx <= radius * radius
    dy, dx = dy[keep], dx[keep]
    cost = np.rint(np.sqrt(dy * dy + dx * dx) * _COST_SCALE).astype(np.float64)
    return dy, dx, cost


def correspond_pixels(machine: np.ndarray, human: np.ndarray, max_dist: float = MAX_DIST,
                      outlier_cost: float = OUTLIER_COST) -> tuple[np.ndarray, np.ndarray]:
    """Match boundary pixels of two maps one-to-one; return which pixels of each map found a partner.

    Pixels may pair when they are at most ``max_dist`` x image diagonal apart. Like the official
    ``correspondPixels``, the matching minimises the summed (integer-rounded) distances plus a large
    outlier cost per unmatched pixel, so it first matches as many pixels as possible and then prefers
    short pairs. The official code solves this with Goldberg's CSA on a graph with random sparse outlier
    edges; here each pixel of the smaller map gets its own outlier node, which has the same optimum
    (up to ties) and is solved exactly with SciPy's sparse LAPJV.
    """
    machine = np.asarray(machine, dtype=bool)
    human = np.asarray(human, dtype=bool)
    if machine.shape != human.shape or machine.ndim != 2:
        raise ValueError(f"boundary maps must be 2-D and the same shape, got {machine.shape} and {human.shape}")
    h, w = machine.shape
    radius = max_dist * float(np.hypot(h, w))
    match1 = np.zeros((h, w), dtype=bool)
    match2 = np.zeros((h, w), dtype=bool)
    y1, x1 = np.nonzero(machine)
    y2, x2 = np.nonzero(human)
    if len(y1) == 0 or len(y2) == 0:
        return match1, match2

    index2 = np.full((h, w), -1, dtype=np.int64)
    index2[y2, x2] = np.arange(len(y2))
    dy, dx, offset_cost = _disc_offsets(radius)
    yy = y1[:, None] + dy[None, :]
    xx = x1[:, None] + dx[None, :]
    inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    partner = np.full(yy.shape, -1, dtype=np.int64)
    partner[inside] = index2[yy[inside], xx[inside]]
    src, off = np.nonzero(partner >= 0)
    if len(src) == 0:
        return match1, match2
    dst = partner[src, off]
    cost = offset_cost[off]

    # Only pixels with a candidate take part; renumber them densely.
    nodes1, src = np.unique(src, return_inverse=True)
    nodes2, dst = np.unique(dst, return_inverse=True)
    n1, n2 = len(nodes1), len(nodes2)
    # The smaller side must be matched in full, to a real partner or to its own outlier node at the
    # official outlier weight; the larger side may stay unmatched for free. Each real pair thus saves
    # the outlier weight minus its distance, the same trade-off as the official graph. Weights are
    # shifted by 1 because SciPy drops explicit zeros; every full matching has the same number of edges,
    # so the optimum does not move.
    outlier = np.ceil(outlier_cost * radius * _COST_SCALE)
    if n1 <= n2:
        small, large, n_small, n_large = src, dst, n1, n2
    else:
        small, large, n_small, n_large = dst, src, n2, n1
    rows = np.concatenate([small, np.arange(n_small)])
    cols = np.concatenate([large, n_large + np.arange(n_small)])
    vals = np.concatenate([cost, np.full(n_small, outlier)]) + 1.0
    graph = csr_matrix((vals, (rows, cols)), shape=(n_small, n_large + n_small))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < n_large
    pairs_small, pairs_large = row_ind[real], col_ind[real]
    a, b = (nodes1[pairs_small], nodes2[pairs_large]) if n1 <= n2 else (nodes1[pairs_large], nodes2[pairs_small])
    match1[y1[a], x1[a]] = True
    match2[y2[b], x2[b]] = True
    return match1, match2


def boundary_counts(machine_maps: Sequence[np.ndarray], thresholds: np.ndarray, ground_truth: Sequence[GroundTruth],
                    max_dist: float = MAX_DIST, thin_maps: bool = True) -> BoundaryCounts:
    """Count matches of one binary machine map per threshold against all human maps of an image."""
    n = len(thresholds)
    if len(machine_maps) != n:
        raise ValueError(f"{len(machine_maps)} boundary maps for {n} thresholds")
    cnt_r, sum_r, cnt_p, sum_p = (np.zeros(n) for _ in range(4))
    human_total = float(sum(int(g.boundaries.sum()) for g in ground_truth))
    previous = None
    for t, bmap in enumerate(machine_maps):
        bmap = np.asarray(bmap, dtype=bool)
        if previous is not None and np.array_equal(bmap, previous):
            # Neighbouring thresholds often give the same map (a UCM has few distinct levels).
            cnt_r[t], sum_r[t], cnt_p[t], sum_p[t] = cnt_r[t - 1], sum_r[t - 1], cnt_p[t - 1], sum_p[t - 1]
            continue
        previous = bmap
        if thin_maps:
            bmap = thin(bmap)
        matched_machine = np.zeros_like(bmap)
        for gt in ground_truth:
            if gt.boundaries.shape != bmap.shape:
                raise ValueError(f"ground truth is {gt.boundaries.shape}, result is {bmap.shape}")
            m1, m2 = correspond_pixels(bmap, gt.boundaries, max_dist)
            matched_machine |= m1
            cnt_r[t] += m2.sum()
        sum_r[t] = human_total
        sum_p[t] = bmap.sum()
        cnt_p[t] = matched_machine.sum()
    return BoundaryCounts(np.asarray(thresholds, dtype=np.float64), cnt_r, sum_r, cnt_p, sum_p)


def boundary_counts_pb(pb: np.ndarray, ground_truth: Sequence[GroundTruth], nthresh: int = 99,
                       max_dist: float = MAX_DIST) -> BoundaryCounts:
    """Boundary counts of a soft boundary map in ``[0, 1]``, thresholded at ``pb >= t``."""
    thresholds = ucm_thresholds(nthresh)
    return boundary_counts([pb >= t for t in thresholds], thresholds, ground_truth, max_dist)


def boundary_counts_ucm(ucm2: np.ndarray, ground_truth: Sequence[GroundTruth], nthresh: int = 99,
                        max_dist: float = MAX_DIST) -> BoundaryCounts:
    """Boundary counts of an ultrametric contour map, read on the pixel grid as the official code does."""
    return boundary_counts_pb(ucm_boundary_strength(ucm2), ground_truth, nthresh, max_dist)


def boundary_counts_segs(segs: Sequence[np.ndarray], ground_truth: Sequence[GroundTruth],
                         max_dist: float = MAX_DIST) -> BoundaryCounts:
    """Boundary counts of a list of segmentations, one "threshold" (1, 2, ...) per segmentation."""
    thresholds = np.arange(1, len(segs) + 1, dtype=np.float64)
    return boundary_counts([seg_to_boundaries(s) for s in segs], thresholds, ground_truth, max_dist)


# ------------------------------------------------------------------------------------------ region scores
def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Joint histogram ``n[i, j]`` of labels ``i`` in ``a`` and ``j`` in ``b`` (labels from 0)."""
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    return np.bincount((a * nb + b).ravel(), minlength=na * nb).reshape(na, nb).astype(np.float64)


def _from_one(labels: np.ndarray) -> np.ndarray:
    """Shift labels so the smallest is at least 1, as the official ``compare_segmentations``."""
    labels = np.asarray(labels, dtype=np.int64)
    low = int(labels.min())
    return labels - low + 1 if low < 1 else labels


def rand_index_voi(seg: np.ndarray, gt_seg: np.ndarray) -> tuple[float, float]:
    """Rand index and variation of information (in bits, as the official code) between two label maps."""
    n = _contingency(_from_one(seg), _from_one(gt_seg))
    total = n.sum()
    nu, nv = n.sum(1), n.sum(0)
    ri = 1.0 - (0.5 * (nu @ nu) + 0.5 * (nv @ nv) - (n * n).sum()) / (total * (total - 1) / 2.0)
    joint = n / total
    p1, p2 = joint.sum(1), joint.sum(0)
    h1 = -np.sum(p1[p1 > 0] * np.log2(p1[p1 > 0]))
    h2 = -np.sum(p2[p2 > 0] * np.log2(p2[p2 > 0]))
    nz = joint > 0
    mi = np.sum(joint[nz] * np.log2(joint[nz] / np.outer(p1, p2)[nz]))
    return float(ri), float(h1 + h2 - 2.0 * mi)


def _overlaps(seg: np.ndarray, gt_seg: np.ndarray) -> np.ndarray:
    """Intersection over union of every machine region (rows, labels 1..) with every human region."""
    n = _contingency(seg, gt_seg)[1:, 1:]
    seg_area = np.bincount(seg.ravel(), minlength=n.shape[0] + 1)[1:].astype(np.float64)
    gt_area = np.bincount(gt_seg.ravel(), minlength=n.shape[1] + 1)[1:].astype(np.float64)
    union = seg_area[:, None] + gt_area[None, :] - n
    return np.divide(n, union, out=np.zeros_like(n), where=union > 0)


def region_counts(segs: Sequence[np.ndarray], thresholds: np.ndarray,
                  ground_truth: Sequence[GroundTruth]) -> RegionCounts:
    """Covering, PRI and VOI counts of one segmentation per threshold against all human ones."""
    n = len(thresholds)
    if len(segs) != n:
        raise ValueError(f"{len(segs)} segmentations for {n} thresholds")
    gt_areas = np.concatenate([np.bincount(g.segmentation.ravel(), minlength=int(g.segmentation.max()) + 1)[1:]
                               for g in ground_truth]).astype(np.float64)
    cnt_r, sum_r, cnt_p, sum_p, ri, voi = (np.zeros(n) for _ in range(6))
    best_gt = np.zeros(len(gt_areas))
    previous = None
    for t, seg in enumerate(segs):
        seg = np.asarray(seg, dtype=np.int64)
        if previous is not None and np.array_equal(seg, previous):  # same regions as the last threshold
            for arr in (cnt_r, sum_r, cnt_p, sum_p, ri, voi):
                arr[t] = arr[t - 1]
            continue
        previous = seg
        scores = [rand_index_voi(seg, g.segmentation) for g in ground_truth]
        ri[t] = np.mean([s[0] for s in scores])
        voi[t] = np.mean([s[1] for s in scores])
        matches = np.concatenate([_overlaps(seg, g.segmentation) for g in ground_truth], axis=1)
        seg_areas = np.bincount(seg.ravel(), minlength=matches.shape[0] + 1)[1:].astype(np.float64)
        cnt_p[t] = seg_areas @ matches.max(axis=1)
        sum_p[t] = seg_areas.sum()
        gt_best = matches.max(axis=0)
        cnt_r[t] = gt_areas @ gt_best
        sum_r[t] = gt_areas.sum()
        best_gt = np.maximum(best_gt, gt_best)
    return RegionCounts(np.asarray(thresholds, dtype=np.float64), cnt_r, sum_r, cnt_p, sum_p,
                        float(gt_areas @ best_gt), ri, voi)


def region_counts_ucm(ucm2: np.ndarray, ground_truth: Sequence[GroundTruth], nthresh: int = 99) -> RegionCounts:
    """Region counts of an ultrametric contour map at the official thresholds."""
    thresholds = ucm_thresholds(nthresh)
    return region_counts([ucm_regions(ucm2, t) for t in thresholds], thresholds, ground_truth)


def region_counts_segs(segs: Sequence[np.ndarray], ground_truth: Sequence[GroundTruth]) -> RegionCounts:
    """Region counts of a list of segmentations, one "threshold" (1, 2, ...) per segmentation."""
    return region_counts(list(segs), np.arange(1, len(segs) + 1, dtype=np.float64), ground_truth)


# --------------------------------------------------------------------------------------------- collecting
def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return num / (den + (den == 0))


def f_measure(r: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """Harmonic mean of recall and precision (0 where both are 0)."""
    r, p = np.asarray(r, dtype=np.float64), np.asarray(p, dtype=np.float64)
    return 2 * p * r / (p + r + ((p + r) == 0))


def best_f(thresholds: np.ndarray, r: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float]:
    """Best F over thresholds, interpolating recall and precision linearly between neighbouring
    thresholds (100 steps), as the official ``maxF``. Returns ``(threshold, recall, precision, F)``."""
    best = (float(thresholds[0]), float(r[0]), float(p[0]), float(f_measure(r[0], p[0])))
    if len(thresholds) < 2:
        return best
    d = np.linspace(0.0, 1.0, 100)[None, :]
    ti = thresholds[1:, None] * d + thresholds[:-1, None] * (1 - d)
    ri = r[1:, None] * d + r[:-1, None] * (1 - d)
    pi = p[1:, None] * d + p[:-1, None] * (1 - d)
    fi = f_measure(ri, pi)
    k = int(np.argmax(fi))  # first maximum in the official loop order (threshold pair, then step)
    if fi.flat[k] > best[3]:
        best = (float(ti.flat[k]), float(ri.flat[k]), float(pi.flat[k]), float(fi.flat[k]))
    return best


def average_precision(r: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve, sampled at recall 0, 0.01, ..., 1 as the official code
    (precision is interpolated over the distinct recalls and counts 0 outside their range)."""
    ru, first = np.unique(r, return_index=True)
    if len(ru) < 2:
        return 0.0
    grid = np.linspace(0.0, 1.0, 101)
    pi = np.interp(grid, ru, p[first], left=np.nan, right=np.nan)
    return float(np.nansum(pi) * 0.01)


def collect_boundaries(per_image: Sequence[BoundaryCounts]) -> dict:
    """Dataset boundary scores: ODS (best F of the summed counts), OIS (each image at its own best
    threshold), AP, plus the per-threshold and per-image tables of the official output files."""
    if not per_image:
        raise ValueError("no images to collect")
    thresholds = per_image[0].thresholds
    totals = {k: np.sum([getattr(c, k) for c in per_image], axis=0) for k in ("cnt_r", "sum_r", "cnt_p", "sum_p")}
    best_counts = np.zeros(4)
    images = []
    for c in per_image:
        r, p = _ratio(c.cnt_r, c.sum_r), _ratio(c.cnt_p, c.sum_p)
        images.append(best_f(c.thresholds, r, p))
        f = f_measure(r, p)
        k = int(np.flatnonzero(f == f.max())[-1])
        best_counts += [c.cnt_r[k], c.sum_r[k], c.cnt_p[k], c.sum_p[k]]
    r = _ratio(totals["cnt_r"], totals["sum_r"])
    p = _ratio(totals["cnt_p"], totals["sum_p"])
    ods_t, ods_r, ods_p, ods_f = best_f(thresholds, r, p)
    ois_r = float(_ratio(best_counts[0], best_counts[1]))
    ois_p = float(_ratio(best_counts[2], best_counts[3]))
    return {
        "ods": {"threshold": ods_t, "recall": ods_r, "precision": ods_p, "f": ods_f},
        "ois": {"recall": ois_r, "precision": ois_p, "f": float(f_measure(ois_r, ois_p))},
        "ap": average_precision(r, p),
        "thresholds": np.column_stack([thresholds, r, p, f_measure(r, p)]),
        "images": np.asarray(images),
    }


def collect_regions(per_image: Sequence[RegionCounts]) -> dict:
    """Dataset region scores: covering at ODS / OIS / best per region, and PRI / VOI at ODS / OIS."""
    if not per_image:
        raise ValueError("no images to collect")
    thresholds = per_image[0].thresholds
    cnt_r = np.sum([c.cnt_r for c in per_image], axis=0)
    sum_r = np.sum([c.sum_r for c in per_image], axis=0)
    best = np.zeros(2)
    images = []
    for c in per_image:
        r, p = _ratio(c.cnt_r, c.sum_r), _ratio(c.cnt_p, c.sum_p)
        k = int(np.argmax(r))
        images.append((float(c.thresholds[k]), float(r[k]), float(p[k])))
        k = int(np.flatnonzero(r == r.max())[-1])
        best += [c.cnt_r[k], c.sum_r[k]]
    r = _ratio(cnt_r, sum_r)
    k = int(np.argmax(r))
    ri = np.mean([c.ri for c in per_image], axis=0)
    voi = np.mean([c.voi for c in per_image], axis=0)
    i_ri, i_voi = int(np.argmax(ri)), int(np.argmin(voi))
    return {
        "covering": {"threshold": float(thresholds[k]), "ods": float(r[k]), "ois": float(_ratio(best[0], best[1])),
                     "best": float(sum(c.cnt_r_best for c in per_image) / sum_r[0])},
        "pri": {"threshold": float(thresholds[i_ri]), "ods": float(ri[i_ri]),
                "ois": float(np.mean([c.ri.max() for c in per_image]))},
        "voi": {"threshold": float(thresholds[i_voi]), "ods": float(voi[i_voi]),
                "ois": float(np.mean([c.voi.min() for c in per_image]))},
        "thresholds": np.column_stack([thresholds, r, ri, voi]),
        "images": np.asarray(images),
    }


__all__ = [
    "MAX_DIST", "GroundTruth", "BoundaryCounts", "RegionCounts", "read_ground_truth", "read_ucm2", "read_segs",
    "ucm_thresholds", "ucm_boundary_strength", "seg_to_boundaries", "correspond_pixels",
    "boundary_counts", "boundary_counts_pb", "boundary_counts_ucm", "boundary_counts_segs", "rand_index_voi",
    "region_counts", "region_counts_ucm", "region_counts_segs", "f_measure", "best_f", "average_precision",
    "collect_boundaries", "collect_regions",
]
