"""Colour maps, palette label PNGs and overlays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from hsg.data.io import read_label_map
from hsg.errors import ColormapError
from hsg.data.catalogue import PALETTES, voc_palette
from hsg.vis.colormap import colorize, format_colormap_txt, load_colormap, overlay, write_colormap_files


def test_voc_colours() -> None:
    cmap = voc_palette()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    assert tuple(cmap[0]) == (0, 0, 0)
    assert tuple(cmap[1]) == (128, 0, 0)
    assert tuple(cmap[15]) == (192, 128, 128)
    assert tuple(cmap[20]) == (0, 64, 128)
    assert tuple(cmap[255]) == (224, 224, 192)                  # VOC "void"
    assert len({tuple(c) for c in cmap}) == 256                  # every label distinguishable


def test_camvid_colours() -> None:
    cmap = PALETTES["camvid"]()
    assert cmap.shape == (256, 3) and tuple(cmap[0]) == (128, 128, 128) and tuple(cmap[3]) == (128, 64, 128)
    assert len({tuple(c) for c in cmap[:11]}) == 11 and not cmap[11:].any()  # 11 distinct classes, void black


def test_cityscapes_colours() -> None:
    cmap = PALETTES["cityscapes"]()
    assert tuple(cmap[0]) == (128, 64, 128)                      # road
    assert tuple(cmap[13]) == (0, 0, 142)                        # car
    assert tuple(cmap[18]) == (119, 11, 32)                      # bicycle
    assert not cmap[19:].any()                                   # everything else black, 255 included


def test_misc_files_match_the_code(tmp_path: Path) -> None:
    for name, palette in PALETTES.items():
        cmap = palette()
        path = ROOT / "misc" / f"colormap_{name}.txt"
        assert path.read_text() == format_colormap_txt(cmap)
        assert len(path.read_text().splitlines()) == 256
        np.testing.assert_array_equal(load_colormap(path), cmap)
    written = write_colormap_files(tmp_path)
    assert [p.read_text() for p in written] == [(ROOT / "misc" / p.name).read_text() for p in written]


def test_palette_png_round_trip(tmp_path: Path) -> None:
    label = (np.arange(30 * 40).reshape(30, 40) % 23).astype(np.int64)
    label[0, 0] = 255
    colorize(label, "cityscapes").save(tmp_path / "l.png")
    with Image.open(tmp_path / "l.png") as img:
        assert img.mode == "P"
        np.testing.assert_array_equal(np.asarray(img), label)
        np.testing.assert_array_equal(np.asarray(img.getpalette()).reshape(-1, 3), PALETTES["cityscapes"]())
        np.testing.assert_array_equal(np.asarray(img.convert("RGB"))[1, 1], PALETTES["cityscapes"]()[label[1, 1]])
    np.testing.assert_array_equal(read_label_map(tmp_path / "l.png"), label)   # eval reads the ids back


def test_custom_colormap_files(tmp_path: Path) -> None:
    small = np.array([[1, 2, 3], [250, 0, 7]])
    np.save(tmp_path / "c.npy", small)
    cmap = load_colormap(tmp_path / "c.npy")
    assert cmap.shape == (256, 3) and tuple(cmap[1]) == (250, 0, 7) and not cmap[2:].any()
    (tmp_path / "c.txt").write_text("1 2 3\n")
    assert tuple(load_colormap(tmp_path / "c.txt")[0]) == (1, 2, 3)

    bad = {"shape.npy": np.zeros((4, 4)), "range.npy": np.array([[0, 0, 300]]),
           "frac.npy": np.array([[0.5, 0.2, 0.1]]), "many.npy": np.zeros((300, 3))}
    messages = {"shape.npy": "1 to 256 rows of 3 values", "range.npy": "0..255",
                "frac.npy": "whole numbers", "many.npy": "1 to 256 rows"}
    for name, values in bad.items():
        np.save(tmp_path / name, values)
        with pytest.raises(ColormapError, match=re.escape(str(tmp_path / name)) + ".*" + messages[name]):
            load_colormap(tmp_path / name)
    (tmp_path / "text.txt").write_text("red green blue\n")
    with pytest.raises(ColormapError, match=re.escape(str(tmp_path / "text.txt")) + ": cannot read"):
        load_colormap(tmp_path / "text.txt")
    with pytest.raises(ColormapError, match="does not exist"):
        load_colormap(tmp_path / "none.npy")
    with pytest.raises(ColormapError, match="expected one of voc, cityscapes, camvid, cityscapes27, potsdam, potsdam3 or a .npy/.txt file"):
        load_colormap("pastel")


def test_overlay_blends_and_keeps_ignored_pixels() -> None:
    image = np.full((2, 3, 3), 100, np.uint8)
    label = np.array([[0, 1, 255], [15, 1, 0]])
    np.testing.assert_array_equal(overlay(image, label, "voc", alpha=0.0), image)
    full = overlay(image, label, "voc", alpha=1.0)
    assert tuple(full[0, 1]) == (128, 0, 0) and tuple(full[0, 2]) == (100, 100, 100)
    half = overlay(image, label, voc_palette(), alpha=0.5)
    assert tuple(half[1, 0]) == (146, 114, 114)                  # (100 + (192, 128, 128)) / 2
    assert tuple(overlay(image, label, alpha=1.0, ignore_index=None)[0, 2]) == (224, 224, 192)


def test_picture_input_errors() -> None:
    with pytest.raises(ColormapError, match="0..255"):
        colorize(np.array([[0, 256]]))
    with pytest.raises(ColormapError, match="integers"):
        colorize(np.zeros((2, 2), np.float32))
    with pytest.raises(ColormapError, match="differ in size"):
        overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2), np.int64))
    with pytest.raises(ColormapError, match="colour map array: a colour map must have 1 to 256 rows"):
        colorize(np.zeros((2, 2), np.int64), np.zeros((4, 4)))
    with pytest.raises(ColormapError, match="alpha"):
        overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.int64), alpha=1.5)


def test_hierarchy_figure_titles_count_the_groups_used_of_the_models(monkeypatch) -> None:
    """The fine and coarse panels say how many groups the image uses of how many the model has."""
    from PIL import ImageDraw

    from hsg.vis.figures import hierarchy_figure

    written = []
    real = ImageDraw.ImageDraw.text

    def record(self, xy, text, *args, **kwargs):
        written.append(text)
        return real(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    image = np.zeros((40, 60, 3), np.uint8)
    fine = np.repeat(np.arange(6) % 3, 10)[None, :].repeat(40, 0)  # 3 fine groups used
    coarse = (fine > 0).astype(np.int64)  # 2 coarse groups used
    figure = hierarchy_figure(image, {"segments": fine, "fine": fine, "coarse": coarse},
                              queries={"fine": 8, "coarse": 4})
    assert "fine groups (3 of 8)" in written and "coarse groups (2 of 4)" in written
    assert "k-means segments (3)" in written and figure.size[1] > 256
