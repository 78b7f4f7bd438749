"""Pictures: colour maps, palette PNGs and overlays, segment/group id pictures, hierarchy figures."""
