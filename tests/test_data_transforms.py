"""Training-view geometry and colour jitter, checked on real VOC and COCO images.

The geometry is checked against an independent formulation: every view pixel is mapped back to the
source image through the recorded flip/scale/crop as a continuous transform, and both the region ids
and the image values must agree with what is there.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageEnhance

from hsg.data.io import read_image, read_label_map
from hsg.data import transforms as T

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
VOC_ID = "2007_000032"


@pytest.fixture(scope="module")
def voc(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    voc = shared_data / "VOCdevkit" / "VOC2012"
    image = read_image(voc / "JPEGImages" / f"{VOC_ID}.jpg")
    region = read_label_map(voc / "segcls" / f"{VOC_ID}.png").astype(np.int64) + 1  # GT as stand-in regions
    return image, region


@pytest.fixture(scope="module")
def coco(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    root = shared_data / "samples" / "coco_panoptic"
    image = read_image(root / "input_images" / "000000439180.jpg")
    region = read_label_map(root / "panoptic_examples" / "000000439180.png", rgb_ids=True)  # R + 256 G + 65536 B
    return image, region


def params(**kw) -> T.AugmentParams:
    base = T.AugmentParams(crop_size=(224, 224), mean=MEAN, std=STD)
    return replace(base, **kw)


def back_map(geom: T.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Continuous source coordinates (pixel-centre convention) of every view pixel, and a valid mask."""
    h, w = geom.source
    i = np.arange(geom.crop[0])[:, None] + geom.offset[0]
    j = np.arange(geom.crop[1])[None, :] + geom.offset[1]
    y = (i + 0.5) * h / geom.resized[0] - 0.5
    x = (j + 0.5) * w / geom.resized[1] - 0.5
    if geom.flip:
        x = w - 1 - x
    valid = (i < geom.resized[0]) & (j < geom.resized[1])
    return np.broadcast_to(y, geom.crop), np.broadcast_to(x, geom.crop), valid


def source_pixel(geom: T.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, x, valid = back_map(geom)
    h, w = geom.source
    return np.clip(np.rint(y), 0, h - 1).astype(int), np.clip(np.rint(x), 0, w - 1).astype(int), valid


def interior(region: np.ndarray) -> np.ndarray:
    """Pixels whose 5x5 neighbourhood holds one id: nearest sampling cannot land in another region."""
    ids = region.astype(np.float64)
    kernel = np.ones((5, 5), np.uint8)
    return cv2.dilate(ids, kernel) == cv2.erode(ids, kernel)


def unnormalise(chw: np.ndarray) -> np.ndarray:
    return chw.transpose(1, 2, 0) * np.array(STD, np.float32) + np.array(MEAN, np.float32)


# ------------------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("seed", range(6))
def test_view_maps_back_onto_source_image_and_regions(voc, seed):
    image, region = voc
    rng = np.random.default_rng(seed)
    p = params(jitter_prob=0.0, grayscale_prob=0.0)
    view, view_region, geom = T.augment_view(image.astype(np.float32) / 255, region, rng, p)
    assert view.shape == (3, 224, 224) and view.dtype == np.float32
    assert view_region.shape == (224, 224) and view_region.dtype == np.int64
    h, w = geom.source
    assert geom.resized == (int(geom.scale * h), int(geom.scale * w))
    assert 0.5 <= geom.scale <= 1.5

    y, x, valid = back_map(geom)
    # Regions: the id in the view is the id at the source pixel the view pixel came from.
    sy, sx, _ = source_pixel(geom)
    assert (view_region[~valid] == -1).all()
    inside = valid & interior(region)[sy, sx]
    assert (view_region == region[sy, sx])[inside].all()
    assert (view_region == region[sy, sx])[valid].mean() > 0.97  # boundaries shift by < 1 source pixel
    # Image: bilinear sample of the source at the continuous position (an independent cv2.remap).
    expected = cv2.remap(image.astype(np.float32) / 255, x.astype(np.float32), y.astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.abs(unnormalise(view) - expected)[valid]
    assert err.mean() < 3e-3 and err.max() < 0.06, (err.mean(), err.max())


def test_two_views_name_the_same_regions(coco):
    """Warp both views back: where they cover the same source pixel, they carry the same id."""
    image, region = coco
    image_f = image.astype(np.float32) / 255
    p = params(crop_size=(320, 320))
    checked = 0
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        (_, ra, ga), (_, rb, gb) = (T.augment_view(image_f, region, rng, p) for _ in range(2))
        maps = []
        for view_region, geom in ((ra, ga), (rb, gb)):
            sy, sx, valid = source_pixel(geom)
            canvas = np.full(region.shape, -1, dtype=np.int64)
            canvas[sy[valid], sx[valid]] = view_region[valid]
            maps.append(canvas)
            assert set(np.unique(view_region)) <= set(np.unique(region)) | {-1}  # ids copied, never mixed
        both = (maps[0] >= 0) & (maps[1] >= 0) & interior(region)
        if both.sum() < 1000:
            continue
        checked += 1
        assert (maps[0] == maps[1])[both].all()
        assert (maps[0] == region)[both].all()
    assert checked >= 2
    assert region.max() > 2048  # real panoptic ids: a 2048 packing divisor would alias them


def test_padding_is_mean_and_minus_one(voc):
    image, region = voc
    p = params(scale_range=(0.3, 0.3), jitter_prob=0.0, grayscale_prob=0.0)  # 150x84 inside a 224 crop
    rng = np.random.default_rng(0)
    geom = T.sample_geometry(rng, image.shape[:2], p)
    vh, vw = geom.valid
    assert (vh, vw) == geom.resized and geom.offset == (0, 0)
    raw = T.warp_image(image.astype(np.float32) / 255, geom, MEAN)
    pad = np.ones((224, 224), bool)
    pad[:vh, :vw] = False
    assert np.array_equal(raw[pad], np.broadcast_to(np.float32(MEAN), (pad.sum(), 3)))
    view, view_region, _ = T.augment_view(image.astype(np.float32) / 255, region, np.random.default_rng(0), p)
    assert np.abs(view[:, pad]).max() < 1e-6  # normalised mean = 0 when the colour stage is off
    assert (view_region[pad] == -1).all() and (view_region[~pad] >= 1).all()
    # With colour jitter the padding is jittered too (as the original), the region padding stays -1.
    _, jittered_region, _ = T.augment_view(image.astype(np.float32) / 255, region, np.random.default_rng(0),
                                           params(scale_range=(0.3, 0.3)))
    assert (jittered_region[pad] == -1).all()


def test_switches_off_flip_scale_and_crop(voc):
    image, _ = voc
    p = params(mirror=False, scale=False, crop=False)
    for seed in range(5):
        geom = T.sample_geometry(np.random.default_rng(seed), image.shape[:2], p)
        assert (geom.flip, geom.scale, geom.offset) == (False, 1.0, (0, 0))
    # Identity geometry copies pixels exactly.
    geom = T.sample_geometry(np.random.default_rng(0), image.shape[:2], p)
    out = T.warp_image(image.astype(np.float32), geom, MEAN)
    assert np.array_equal(out, image[:224, :224].astype(np.float32))


def test_geometry_distribution():
    rng = np.random.default_rng(1)
    geoms = [T.sample_geometry(rng, (300, 400), params()) for _ in range(2000)]
    flips = np.mean([g.flip for g in geoms])
    scales = np.array([g.scale for g in geoms])
    assert 0.45 < flips < 0.55
    assert scales.min() >= 0.5 and scales.max() <= 1.5 and abs(scales.mean() - 1.0) < 0.03
    offsets = np.array([g.offset for g in geoms])
    limits = np.array([[max(g.resized[0], 224) - 224, max(g.resized[1], 224) - 224] for g in geoms])
    assert (offsets >= 0).all() and (offsets <= limits).all()


# ------------------------------------------------------------------------------------------ colour
@pytest.mark.parametrize("factor", [0.0, 0.6, 0.97, 1.25, 1.4])
def test_brightness_contrast_saturation_match_pil(voc, factor):
    """torchvision's PIL path is ImageEnhance: ours must give the same bytes."""
    image, _ = voc
    pil = Image.fromarray(image)
    assert np.array_equal(T.adjust_brightness(image, factor), np.asarray(ImageEnhance.Brightness(pil).enhance(factor)))
    assert np.array_equal(T.adjust_contrast(image, factor), np.asarray(ImageEnhance.Contrast(pil).enhance(factor)))
    assert np.array_equal(T.adjust_saturation(image, factor), np.asarray(ImageEnhance.Color(pil).enhance(factor)))


def pil_adjust_hue(image: np.ndarray, factor: float) -> np.ndarray:
    """torchvision.transforms.functional_pil.adjust_hue, written out with PIL."""
    h, s, v = Image.fromarray(image).convert("HSV").split()
    hue = np.array(h, dtype=np.uint8)
    hue += np.uint8(int(factor * 255) % 256)
    return np.asarray(Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert("RGB"))


@pytest.mark.parametrize("factor", [-0.1, -0.04, 0.0, 0.07, 0.1, 0.5])
def test_hue_close_to_torchvision(voc, factor):
    image, _ = voc
    diff = np.abs(T.adjust_hue(image, factor).astype(int) - pil_adjust_hue(image, factor).astype(int))
    assert diff.mean() < 0.8 and np.percentile(diff, 99) <= 4, (diff.mean(), diff.max())
    if factor == 0.5:  # half a turn really moves the colours
        assert np.abs(T.adjust_hue(image, factor).astype(int) - image.astype(int)).mean() > 10


def test_grayscale_matches_pil(voc):
    image, _ = voc
    gray = T.to_grayscale(image)
    assert gray.shape == image.shape
    expected = np.asarray(Image.fromarray(image).convert("L"))
    assert all(np.array_equal(gray[..., c], expected) for c in range(3))
    colours = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    assert np.array_equal(T.luma(colours), np.asarray(Image.fromarray(colours).convert("L")))


def test_jitter_factor_ranges_and_probabilities():
    rng = np.random.default_rng(0)
    flat = np.full((2, 2, 3), 100, np.uint8)
    ratios = np.array([T.color_jitter(flat, rng, (0.4, 0, 0, 0))[0, 0, 0] / 100 for _ in range(3000)])
    assert 0.59 <= ratios.min() < 0.62 and 1.38 < ratios.max() <= 1.4 and abs(ratios.mean() - 1.0) < 0.02
    p = params(jitter=(0.4, 0, 0, 0), jitter_prob=0.8, grayscale_prob=0.2)
    coloured = np.tile(np.array([200, 50, 10], np.uint8), (2, 2, 1))
    outs = [T.colour_augment(coloured, rng, p) for _ in range(4000)]
    changed = np.mean([not np.array_equal(o, coloured) for o in outs])
    gray = np.mean([o[0, 0, 0] == o[0, 0, 1] == o[0, 0, 2] for o in outs])
    assert abs(gray - 0.2) < 0.025
    assert abs(changed - (1 - 0.2 * 0.8)) < 0.025  # unchanged only without jitter and without grayscale
    jitter_only = [T.colour_augment(coloured, rng, replace(p, grayscale_prob=0.0)) for _ in range(4000)]
    assert abs(np.mean([not np.array_equal(o, coloured) for o in jitter_only]) - 0.8) < 0.025


def test_colour_order_is_random(monkeypatch):
    """All 24 orders of the four operations occur, as torchvision's randperm(4)."""
    calls: list[str] = []
    for name in ("adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue"):
        monkeypatch.setattr(T, name, lambda img, f, name=name: calls.append(name) or img)
    rng = np.random.default_rng(3)
    img = np.zeros((1, 1, 3), np.uint8)
    orders = set()
    for _ in range(300):
        calls.clear()
        T.color_jitter(img, rng, (0.4, 0.4, 0.4, 0.1))
        orders.add(tuple(calls))
    assert len(orders) == 24 and all(len(o) == 4 for o in orders)
    calls.clear()
    T.color_jitter(img, rng, (0.4, 0.0, 0.4, 0.0))  # a zero strength skips its operation
    assert sorted(calls) == ["adjust_brightness", "adjust_saturation"]


def test_normalise_layout_and_values():
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 255, 0, 128
    out = T.normalise(img, MEAN, STD)
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, 0], (np.array([1.0, 0.0, 128 / 255]) - MEAN) / STD, rtol=1e-6)


# ------------------------------------------------------------------------------------------ evaluation helpers
def test_longer_side_and_padding():
    assert T.longer_side_size((281, 500), 512) == (287, 512)
    assert T.longer_side_size((1024, 2048), 2048) == (1024, 2048)
    a = np.ones((3, 5), np.int64)
    out = T.pad_bottom_right(a, (4, 4), -1)
    assert out.shape == (4, 5) and (out[3] == -1).all() and (out[:3] == 1).all()


def test_resize_nearest_matches_cv2_for_small_ids(voc):
    _, region = voc
    for size in [(140, 250), (500, 900), (281, 123)]:
        ours = T.resize_nearest(region, size)
        ref = cv2.resize(region.astype(np.int32), size[::-1], interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(ours, ref)
