"""Over-segmentations made in Python: edge map -> watershed superpixels -> ultrametric contour map ->
the original HSG threshold rule (at most 48 regions). See ``docs/oversegmentation.md``."""
