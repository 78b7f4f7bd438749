"""Over-segmentations made in Python: edge map -> watershed superpixels -> ultrametric contour map ->
the original HSG threshold rule (at most 48 regions). See ``docs/overseg.md``."""

from hsg.overseg.edges import DETECTORS, EdgeDetector, GradientEdges, make_detector
from hsg.overseg.ucm import MAX_REGIONS, threshold_regions, ucm_from_edges, write_labels, write_ucm

__all__ = ["DETECTORS", "EdgeDetector", "GradientEdges", "make_detector", "MAX_REGIONS", "threshold_regions",
           "ucm_from_edges", "write_labels", "write_ucm"]
