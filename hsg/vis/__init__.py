"""Label pictures: colour maps, palette PNGs and overlays on the image."""

from hsg.vis.colormap import (
    CITYSCAPES_TRAINID_COLORS,
    cityscapes_colormap,
    colorize,
    format_colormap_txt,
    load_colormap,
    overlay,
    voc_colormap,
    write_colormap_files,
)

__all__ = [
    "CITYSCAPES_TRAINID_COLORS",
    "cityscapes_colormap",
    "colorize",
    "format_colormap_txt",
    "load_colormap",
    "overlay",
    "voc_colormap",
    "write_colormap_files",
]
