"""A small, deterministic labelled dataset generated in code, for the demo and the tests.

The project cannot ship VOC or COCO, so the demo learns from pictures drawn here: one to three shapes of
four object classes on a textured background. Each class has its own texture family (stripes, dots,
checks, rings) and hue range, with per-instance variation in scale, orientation, phase, hue and
brightness, so that grouping pixels into classes needs more than a colour threshold, and the background
is a smooth random texture of its own. Everything is drawn from a seeded numpy generator, so the same
seed gives the same files on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hsg.data.catalogue import SYNTHETIC_CLASSES
from hsg.files import write_text

# Hue centre (degrees) and spread of each object class; the background draws any hue, low saturation.
_HUES = {1: (0.0, 25.0), 2: (120.0, 25.0), 3: (215.0, 25.0), 4: (50.0, 20.0)}


@dataclass(frozen=True)
class SyntheticSpec:
    """How many images to draw and how large."""

    num_train: int = 192
    num_val: int = 64
    size: int = 96
    seed: int = 0


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    hsv = np.array([[[h / 2.0, s * 255.0, v * 255.0]]], np.float32).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _pattern(cls: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A [size, size] pattern in [0, 1] with the texture family of ``cls``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    period = rng.uniform(6.0, 10.0)
    phase = rng.uniform(0, 2 * np.pi)
    if cls == 1:  # stripes
        return 0.5 + 0.5 * np.sin(2 * np.pi * u / period + phase)
    if cls == 2:  # dots
        d = np.hypot((u % period) - period / 2, (v % period) - period / 2)
        return (d < period * 0.28).astype(np.float32)
    if cls == 3:  # checks
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    if cls == 4:  # rings around a random centre
        cy, cx = rng.uniform(0, size, 2)
        return 0.5 + 0.5 * np.sin(2 * np.pi * np.hypot(yy - cy, xx - cx) / period + phase)
    raise ValueError(f"unknown class {cls}")


def _colorize(pattern: np.ndarray, cls: int, rng: np.random.Generator) -> np.ndarray:
    centre, spread = _HUES[cls]
    hue = (centre + rng.uniform(-spread, spread)) % 360
    bright = _hsv_to_rgb(hue, rng.uniform(0.55, 0.9), rng.uniform(0.75, 1.0))
    dark = _hsv_to_rgb((hue + rng.uniform(-15, 15)) % 360, rng.uniform(0.5, 0.9), rng.uniform(0.15, 0.4))
    return pattern[..., None] * bright + (1 - pattern[..., None]) * dark


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.random((size // 8 + 2, size // 8 + 2, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    base = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.3), rng.uniform(0.35, 0.7))
    return np.clip(base + 0.25 * (smooth - 0.5), 0, 1)


def _shape_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cy, cx = rng.uniform(0.2, 0.8, 2) * size
    r = rng.uniform(0.16, 0.3) * size
    kind = rng.integers(3)
    if kind == 0:
        axes = (int(r), int(r * rng.uniform(0.6, 1.0)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        n = 4 if kind == 1 else int(rng.integers(5, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n)) if kind == 2 else \
            np.arange(4) * np.pi / 2 + rng.uniform(0, np.pi / 2)
        radii = r * (rng.uniform(0.7, 1.1, n) if kind == 2 else np.ones(n))
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def draw_sample(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One ``[size, size, 3]`` uint8 image and its ``[size, size]`` uint8 class map (0 = background)."""
    image = _background(size, rng)
    label = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, len(SYNTHETIC_CLASSES)))
        mask = _shape_mask(size, rng)
        texture = _colorize(_pattern(cls, size, rng), cls, rng)
        image[mask] = texture[mask]
        label[mask] = cls
    image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    return (image * 255).round().astype(np.uint8), label


def write_dataset(root: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> dict[str, Path]:
    """Draw the dataset under ``root``: ``images/{train,val}/*.png``, ``labels/{train,val}/*.png`` and
    two-column list files ``train.txt`` / ``val.txt`` (paths relative to ``root``). Returns the list paths.
    Images already on disk with the same spec are kept (the drawing is deterministic)."""
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    lists = {}
    for split, count in (("train", spec.num_train), ("val", spec.num_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(count):
            image, label = draw_sample(rng, spec.size)
            img_rel = f"images/{split}/{split}_{i:04d}.png"
            lab_rel = f"labels/{split}/{split}_{i:04d}.png"
            Image.fromarray(image).save(root / img_rel)
            Image.fromarray(label, mode="L").save(root / lab_rel)
            lines.append(f"{img_rel} {lab_rel}")
        lists[split] = root / f"{split}.txt"
        write_text(lists[split], "\n".join(lines) + "\n")
    return lists
