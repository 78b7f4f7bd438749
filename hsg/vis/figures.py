"""One composite figure per image that shows the whole segment hierarchy at a glance.

Panels, left to right: the image, the over-segmentation (if any), the k-means segments, the fine groups
and the coarse groups, each drawn over a faded copy of the image with its boundaries. Colours carry the
hierarchy: every coarse group has its own hue, and each fine group is a shade of the hue of the coarse
group that holds most of its pixels, so the nesting is visible without reading the legend. The legend
under the group panels lists each group with its colour and share of the image.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hsg.vis.pictures import color_ids

_PANEL_TITLES = {"oversegmentation": "over-segmentation", "segments": "k-means segments",
                 "fine": "fine groups", "coarse": "coarse groups"}


def _boundaries(labels: np.ndarray) -> np.ndarray:
    edge = np.zeros(labels.shape, bool)
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edge


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return (np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value)) * 255).round().astype(np.uint8)


def nested_colors(fine: np.ndarray, coarse: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Colours of the fine and coarse group ids, distinct within each level, nesting kept visible.

    Every fine group gets its own hue, evenly spaced around the colour circle in the order of the coarse
    group that holds most of its pixels, so siblings sit next to each other on the circle; a coarse group
    takes the hue at the middle of its children's arc, deeper and darker. However the groups nest (one
    coarse group holding all eight fine ones included), no two fine groups share a colour.
    """
    coarse_ids = [int(c) for c in np.unique(coarse) if c >= 0]
    parent: dict[int, int] = {}
    for f in (int(v) for v in np.unique(fine) if v >= 0):
        values, counts = np.unique(coarse[(fine == f) & (coarse >= 0)], return_counts=True)
        parent[f] = int(values[counts.argmax()]) if len(values) else -1
    order = sorted(parent, key=lambda f: (parent[f], f))
    # Coarse groups without a fine group of their own still need a place on the circle.
    slots = order + [("coarse", c) for c in coarse_ids if c not in parent.values()]
    hue = {slot: (k + 0.5) / max(len(slots), 1) + 0.02 for k, slot in enumerate(slots)}
    fine_col = {f: _rgb(hue[f], 0.7, 0.97) for f in order}
    coarse_col = {}
    for c in coarse_ids:
        arc = [hue[f] for f in order if parent[f] == c] or [hue[("coarse", c)]]
        angles = 2 * np.pi * np.asarray(arc)
        middle = np.arctan2(np.sin(angles).mean(), np.cos(angles).mean()) / (2 * np.pi)
        coarse_col[c] = _rgb(middle, 0.9, 0.72)
    return fine_col, coarse_col


def _paint(labels: np.ndarray, colors: dict[int, np.ndarray] | None) -> np.ndarray:
    if colors is None:
        return color_ids(labels)
    out = np.zeros(labels.shape + (3,), np.uint8)
    for k, col in colors.items():
        out[labels == k] = col
    return out


def _panel(image: np.ndarray, labels: np.ndarray | None, colors: dict[int, np.ndarray] | None) -> np.ndarray:
    if labels is None:
        return image.copy()
    painted = _paint(labels, colors)
    out = (0.35 * image + 0.65 * painted).astype(np.uint8)
    out[labels < 0] = image[labels < 0] // 3
    out[_boundaries(labels)] = 0
    return out


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def hierarchy_figure(image: np.ndarray, levels: dict[str, np.ndarray | None], title: str = "",
                     panel_height: int = 256, queries: dict[str, int] | None = None) -> Image.Image:
    """Compose the figure for ``image [H, W, 3]`` and label maps ``levels`` (same size; -1 = none).

    ``levels`` may hold ``oversegmentation`` (or None), ``segments``, ``fine`` and ``coarse``. A panel's
    title counts the groups present in the image; ``queries`` (``{"fine": 8, "coarse": 4}``) adds how many
    the model has, since an image rarely uses all of them ("fine groups (5 of 8)").
    """
    h, w = image.shape[:2]
    scale = panel_height / h
    pw = max(1, int(round(w * scale)))
    fine, coarse = levels.get("fine"), levels.get("coarse")
    fine_col, coarse_col = nested_colors(fine, coarse) if fine is not None and coarse is not None else ({}, {})
    panels = [("image", image, None)]
    for key in ("oversegmentation", "segments", "fine", "coarse"):
        labels = levels.get(key)
        if labels is None:
            continue
        colors = {"fine": fine_col, "coarse": coarse_col}.get(key)
        count = len([v for v in np.unique(labels) if v >= 0])
        of = f" of {queries[key]}" if queries and key in queries else ""
        panels.append((f"{_PANEL_TITLES[key]} ({count}{of})", _panel(image, labels, colors), labels))

    font, small = _font(14), _font(11)
    header, legend_rows = 22 + (18 if title else 0), max(len(fine_col), len(coarse_col))
    legend_h = 12 + 15 * legend_rows
    gap = 6
    canvas = Image.new("RGB", (len(panels) * (pw + gap) + gap, header + panel_height + legend_h), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((gap, 2), title, fill="black", font=font)
    for i, (name, picture, labels) in enumerate(panels):
        x = gap + i * (pw + gap)
        resized = cv2.resize(picture, (pw, panel_height), interpolation=cv2.INTER_NEAREST)
        canvas.paste(Image.fromarray(resized), (x, header))
        draw.text((x, header - 18), name, fill="black", font=font)
        key = "fine" if name.startswith("fine") else "coarse" if name.startswith("coarse") else None
        if key is None or labels is None:
            continue
        colors = fine_col if key == "fine" else coarse_col
        total = max(int((labels >= 0).sum()), 1)
        for row, (group, col) in enumerate(sorted(colors.items())):
            y = header + panel_height + 6 + 15 * row
            draw.rectangle([x, y, x + 12, y + 11], fill=tuple(int(c) for c in col), outline="black")
            share = 100.0 * float((labels == group).sum()) / total
            draw.text((x + 18, y - 1), f"{key} {group}: {share:.0f}%", fill="black", font=small)
    return canvas
