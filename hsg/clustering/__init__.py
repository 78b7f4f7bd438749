"""In-image clustering: spherical k-means segments, per-image node sets and the fine/coarse grouping."""
