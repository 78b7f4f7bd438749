"""Colour maps and label pictures: palette PNGs and overlays of a label map on its image.

A label picture is written as an 8-bit *palette* PNG: the pixel values stay the class (or cluster) ids, so
the same file can be scored by ``pyenv/eval.py`` and viewed in colour, and it is several times smaller
than an RGB PNG.

Colour maps are ``[256, 3]`` uint8 arrays, one RGB row per label value: the name of a dataset palette
of :mod:`hsg.data.catalogue` (``voc``, ``cityscapes``, ``camvid``), or a ``.npy`` or ``.txt`` file of up
to 256 integer RGB rows (shorter maps are padded with black).

``python -m hsg.vis.colormap misc`` regenerates ``misc/colormap_<name>.txt`` from the catalogue.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from hsg.data.catalogue import PALETTES
from hsg.errors import ColormapError
from hsg.files import write_text

def _validate(values: np.ndarray, source: str) -> np.ndarray:
    """Check a loaded colour map and pad it to 256 rows; messages name the file."""
    if values.ndim != 2 or values.shape[1] != 3 or not 1 <= values.shape[0] <= 256:
        raise ColormapError(f"{source}: a colour map must have 1 to 256 rows of 3 values (R G B), "
                            f"got shape {tuple(values.shape)}")
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise ColormapError(f"{source}: colour map values must be numbers, got dtype {values.dtype}")
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ColormapError(f"{source}: colour map values must be whole numbers 0..255 "
                            "(scale a [0, 1] map by 255 first)")
    if values.min() < 0 or values.max() > 255:
        raise ColormapError(f"{source}: colour map values must lie in 0..255, "
                            f"got {values.min():g}..{values.max():g}")
    cmap = np.zeros((256, 3), dtype=np.uint8)
    cmap[: values.shape[0]] = values.astype(np.uint8)
    return cmap


def load_colormap(spec: str | Path) -> np.ndarray:
    """Resolve a palette name (``voc``, ``cityscapes``, ``camvid``) or a ``.npy`` / ``.txt`` path to a
    ``[256, 3]`` uint8 map."""
    if str(spec) in PALETTES:
        return PALETTES[str(spec)]()
    path = Path(spec)
    if path.suffix.lower() not in (".npy", ".txt"):
        raise ColormapError(f"colour map '{spec}': expected one of {', '.join(PALETTES)} or a .npy/.txt file")
    if not path.is_file():
        raise ColormapError(f"{path}: colour map file does not exist")
    try:
        if path.suffix.lower() == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ColormapError(f"{path}: cannot read colour map ({exc})") from exc
    return _validate(np.asarray(values), str(path))


def _palette(cmap: np.ndarray | str | Path) -> np.ndarray:
    """A ``[256, 3]`` uint8 palette from a name, a file or an array (arrays are checked like files)."""
    if isinstance(cmap, np.ndarray):
        return _validate(cmap, "colour map array")
    return load_colormap(cmap)


def format_colormap_txt(cmap: np.ndarray) -> str:
    """The text form of a colour map: one ``R G B`` line per label."""
    return "".join(f"{r} {g} {b}\n" for r, g, b in np.asarray(cmap, dtype=np.int64))


def _label_uint8(label: np.ndarray) -> np.ndarray:
    """Labels as uint8, refusing values a 256-entry palette cannot show (rather than wrapping them)."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ColormapError(f"a label map must be 2-D [H, W], got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise ColormapError(f"a label map must hold integers, got dtype {label.dtype}")
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ColormapError(f"label values must lie in 0..255 for a palette picture, "
                            f"got {label.min()}..{label.max()}")
    return label.astype(np.uint8, copy=False)


def colorize(label: np.ndarray, cmap: np.ndarray | str | Path = "voc") -> Image.Image:
    """A palette ('P' mode) PIL image of ``label`` whose pixel values are the labels themselves."""
    palette = _palette(cmap)
    label = np.ascontiguousarray(_label_uint8(label))
    # frombytes: the mode argument of Image.fromarray is deprecated in recent Pillow releases.
    image = Image.frombytes("P", (label.shape[1], label.shape[0]), label.tobytes())
    image.putpalette(palette.reshape(-1).tolist())
    return image


def overlay(image: np.ndarray, label: np.ndarray, cmap: np.ndarray | str | Path = "voc",
            alpha: float = 0.5, ignore_index: int | None = 255) -> np.ndarray:
    """Blend label colours over an ``[H, W, 3]`` uint8 RGB image: ``(1 - alpha) * image + alpha * colour``.

    Pixels equal to ``ignore_index`` keep the image unchanged, so unlabelled areas stay readable.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ColormapError(f"overlay needs an [H, W, 3] uint8 RGB image, got {image.dtype} {image.shape}")
    label = _label_uint8(label)
    if label.shape != image.shape[:2]:
        raise ColormapError(f"label map {label.shape} and image {image.shape[:2]} differ in size")
    if not 0.0 <= alpha <= 1.0:
        raise ColormapError(f"alpha must lie in [0, 1], got {alpha}")
    colour = _palette(cmap).astype(np.float32)[label]
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colour
    if ignore_index is not None:
        keep = label == ignore_index
        blended[keep] = image[keep]
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def write_colormap_files(out_dir: str | Path) -> list[Path]:
    """Write ``colormap_<name>.txt`` of every catalogue palette into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, palette in PALETTES.items():
        path = out_dir / f"colormap_{name}.txt"
        write_text(path, format_colormap_txt(palette()))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_colormap_files(sys.argv[1] if len(sys.argv) > 1 else "misc"):
        print(f"wrote {written_path}")
