"""HSG losses: SegSort+ (pixel-to-segment, hierarchy, centroid), DMoN, and the sum of all terms."""
