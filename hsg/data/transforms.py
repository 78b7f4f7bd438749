"""Per-view augmentation and evaluation resizing in numpy/OpenCV, without torchvision.

Training view (the original's distribution, reference section 1.5): horizontal flip (p 0.5), scale
``r ~ U(scale_range)`` to ``(int(r h), int(r w))``, pad bottom/right to the crop (image with the pixel
mean, over-segmentation with -1), random crop, colour jitter in random order (p 0.8), grayscale (p 0.2), normalise.

Flip, scale, pad and crop are folded into one affine warp that produces only the crop, so a 4x
upscaled image is never materialised. The warp samples exactly where ``cv2.resize`` (bilinear) samples
the flipped image, including its edge clamping; OpenCV's warp quantises sample positions to 1/32 pixel,
which is the only difference. The over-segmentation is gathered with integer indices using the nearest rule of
``cv2.resize`` (``src = floor(dst * src_size / dst_size)``), so ids are copied, never interpolated, and
any integer id (not just < 2048 or < 65536) survives.

Colour jitter follows torchvision's ``ColorJitter`` on PIL images, operation by operation: brightness
blends with black, contrast with the rounded mean of the luma image, saturation with the luma image
(all three truncate like PIL's ``Image.blend``: identical output), hue rotates the hue channel of HSV
by ``int(factor * 256)`` 1/256 turns (OpenCV's HSV; within a few levels of PIL's HSV round trip).
``RandomGrayscale`` is PIL's luma ``(19595 R + 38470 G + 7471 B + 2^15) >> 16`` replicated to 3 channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


# PIL's luma (19595 R + 38470 G + 7471 B + 2^15) >> 16 as one float32 matrix: every product and partial
# sum is an integer below 2^24 times a power of two, so float32 holds it exactly and truncation gives
# PIL's bytes (checked against PIL for all 2^24 colours).
_LUMA = np.array([[19595, 38470, 7471, 32768]], dtype=np.float32) / 65536
_VALUES = np.arange(256, dtype=np.float32)


# ------------------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class AugmentParams:
    """Everything a training view needs to know, validated once from the config."""

    crop_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mirror: bool = True
    scale: bool = True
    crop: bool = True
    scale_range: tuple[float, float] = (0.5, 1.5)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2

    @property
    def colour_enabled(self) -> bool:
        """Whether views go through the uint8 colour stage (the original's uint8 truncation included)."""
        return (self.jitter_prob > 0 and any(j > 0 for j in self.jitter)) or self.grayscale_prob > 0


def augment_params_from_config(cfg: Any) -> AugmentParams:
    """The train.* augmentation keys (their ranges were checked when the config loaded)."""
    t, net = cfg.train, cfg.network
    return AugmentParams(
        crop_size=tuple(t.crop_size), mean=tuple(net.pixel_means), std=tuple(net.pixel_stds),
        mirror=t.random_mirror, scale=t.random_scale, crop=t.random_crop, scale_range=tuple(t.scale_range),
        jitter=tuple(t.color_jitter), jitter_prob=t.color_jitter_prob, grayscale_prob=t.random_grayscale)


# ------------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class Geometry:
    """Where a view came from: flip, then resize to ``resized``, then a crop at ``offset`` (y, x)."""

    source: tuple[int, int]
    flip: bool
    scale: float
    resized: tuple[int, int]
    offset: tuple[int, int]
    crop: tuple[int, int]

    @property
    def valid(self) -> tuple[int, int]:
        """Rows and columns of the crop that hold image pixels (the rest is padding)."""
        return (max(0, min(self.crop[0], self.resized[0] - self.offset[0])),
                max(0, min(self.crop[1], self.resized[1] - self.offset[1])))


def sample_geometry(rng: np.random.Generator, source: tuple[int, int], params: AugmentParams) -> Geometry:
    """Draw flip, scale and crop offset in the original's order (flip, scale, crop y, crop x)."""
    h, w = source
    crop_h, crop_w = params.crop_size
    flip = bool(params.mirror and rng.uniform(0.0, 1.0) >= 0.5)
    r = float(rng.uniform(*params.scale_range)) if params.scale else 1.0
    new_h, new_w = max(1, int(r * h)), max(1, int(r * w))
    if params.crop:
        y0 = int(np.floor(rng.uniform(0, max(new_h, crop_h) - crop_h)))
        x0 = int(np.floor(rng.uniform(0, max(new_w, crop_w) - crop_w)))
    else:
        y0 = x0 = 0
    return Geometry((h, w), flip, r, (new_h, new_w), (y0, x0), (crop_h, crop_w))


def warp_image(image: np.ndarray, geom: Geometry, pad_value: tuple[float, ...]) -> np.ndarray:
    """Flip, resize (bilinear), pad and crop ``image`` [H, W, C] in one warp; padding gets ``pad_value``."""
    h, w = geom.source
    (new_h, new_w), (y0, x0), (crop_h, crop_w) = geom.resized, geom.offset, geom.crop
    sy, sx = h / new_h, w / new_w
    # Output pixel (i, j) samples resized pixel (i + y0, j + x0) of the flipped image, whose source
    # coordinate under cv2.resize is (k + 0.5) * s - 0.5; the flip mirrors x as w - 1 - x.
    if geom.flip:
        mx = np.array([-sx, 0.0, w - 0.5 - (x0 + 0.5) * sx])
    else:
        mx = np.array([sx, 0.0, (x0 + 0.5) * sx - 0.5])
    m = np.stack([mx, [0.0, sy, (y0 + 0.5) * sy - 0.5]])
    out = cv2.warpAffine(image, m, (crop_w, crop_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2 and image.ndim == 3:
        out = out[..., None]
    valid_h, valid_w = geom.valid
    pad = np.asarray(pad_value, dtype=out.dtype)
    out[valid_h:] = pad
    out[:, valid_w:] = pad
    return out


def _nearest_index(size_out: int, size_in: int, offset: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices of cv2.resize's nearest rule for output positions offset..offset+length-1."""
    pos = np.arange(offset, offset + length, dtype=np.int64)
    valid = pos < size_out
    src = np.minimum((pos * size_in) // size_out, size_in - 1)
    return np.where(valid, src, 0), valid


def warp_labels(labels: np.ndarray, geom: Geometry, pad_value: int = -1) -> np.ndarray:
    """Apply a view's geometry to an integer map with nearest sampling; padding gets ``pad_value``."""
    h, w = geom.source
    rows, valid_r = _nearest_index(geom.resized[0], h, geom.offset[0], geom.crop[0])
    cols, valid_c = _nearest_index(geom.resized[1], w, geom.offset[1], geom.crop[1])
    if geom.flip:
        cols = w - 1 - cols
    out = labels.take(rows, axis=0).take(cols, axis=1).astype(np.int64, copy=False)
    out[~valid_r] = pad_value
    out[:, ~valid_c] = pad_value
    return out


def resize_nearest(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """cv2.resize's nearest rule for integer maps of any dtype (OpenCV cannot resize int64)."""
    rows, _ = _nearest_index(size[0], label.shape[0], 0, size[0])
    cols, _ = _nearest_index(size[1], label.shape[1], 0, size[1])
    return label.take(rows, axis=0).take(cols, axis=1)


# ------------------------------------------------------------------------------------------ colour
def _luma_float(image_f: np.ndarray) -> np.ndarray:
    return cv2.transform(image_f, _LUMA).astype(np.uint8)


def luma(image: np.ndarray) -> np.ndarray:
    """PIL's ``convert('L')`` of an RGB uint8 image, bit for bit."""
    return _luma_float(image.astype(np.float32))


def _blend_table(degenerate: float, factor: float) -> np.ndarray:
    """PIL's Image.blend(degenerate, image, factor) for every uint8 value: float32, clip, truncate."""
    out = np.float32(degenerate) + np.float32(factor) * (_VALUES - np.float32(degenerate))
    return np.clip(out, 0, 255).astype(np.uint8)


def adjust_brightness(image: np.ndarray, factor: float) -> np.ndarray:
    return cv2.LUT(image, _blend_table(0.0, factor))


def adjust_contrast(image: np.ndarray, factor: float) -> np.ndarray:
    mean = int(float(luma(image).mean()) + 0.5)
    return cv2.LUT(image, _blend_table(float(mean), factor))


def adjust_saturation(image: np.ndarray, factor: float) -> np.ndarray:
    image_f = image.astype(np.float32)
    gray = cv2.cvtColor(_luma_float(image_f).astype(np.float32), cv2.COLOR_GRAY2RGB)
    # gray + f * (x - gray) in separate float32 steps, as PIL's blend (a fused multiply-add would round
    # differently and change some truncated bytes).
    out = cv2.subtract(image_f, gray)
    out *= np.float32(factor)
    out += gray
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def adjust_hue(image: np.ndarray, factor: float) -> np.ndarray:
    """Rotate hue by ``factor`` turns (|factor| <= 0.5), as torchvision's adjust_hue."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL)
    hsv[..., 0] += np.uint8(int(factor * 256) % 256)  # uint8 addition wraps around the hue circle
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    return np.repeat(luma(image)[..., None], 3, axis=2)


def color_jitter(image: np.ndarray, rng: np.random.Generator, strengths: tuple[float, float, float, float],
                 ) -> np.ndarray:
    """torchvision ColorJitter(b, c, s, h): factors U(max(0, 1-x), 1+x) (hue U(-h, h)), random order."""
    b, c, s, h = strengths
    order = rng.permutation(4)
    factors = [rng.uniform(max(0.0, 1 - x), 1 + x) if x > 0 else None for x in (b, c, s)]
    factors.append(rng.uniform(-h, h) if h > 0 else None)
    ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
    for i in order:
        if factors[i] is not None:
            image = ops[i](image, float(factors[i]))
    return image


def colour_augment(image: np.ndarray, rng: np.random.Generator, params: AugmentParams) -> np.ndarray:
    """RandomApply([ColorJitter], p) then RandomGrayscale(p) on a uint8 RGB image."""
    if params.jitter_prob > 0 and rng.uniform(0.0, 1.0) < params.jitter_prob:
        image = color_jitter(image, rng, params.jitter)
    if params.grayscale_prob > 0 and rng.uniform(0.0, 1.0) < params.grayscale_prob:
        image = to_grayscale(image)
    return image


# ------------------------------------------------------------------------------------------ output
def normalise(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """[H, W, 3] uint8 (0..255) or float (0..1) -> [3, H, W] float32 ``(x - mean) / std``."""
    unit = 1.0 / 255.0 if image.dtype == np.uint8 else 1.0
    out = np.empty((3,) + image.shape[:2], dtype=np.float32)
    for ch in range(3):
        np.multiply(image[..., ch], np.float32(unit / std[ch]), out=out[ch], casting="unsafe")
        out[ch] -= np.float32(mean[ch] / std[ch])
    return out


def augment_view(image: np.ndarray, oversegmentation: np.ndarray, rng: np.random.Generator, params: AugmentParams,
                 ) -> tuple[np.ndarray, np.ndarray, Geometry]:
    """One training view of a float32 [0, 1] image and its over-segmentation.

    Returns the normalised ``[3, S, S]`` float32 image, the ``[S, S]`` int64 region ids (-1 on padding)
    and the :class:`Geometry` that maps the view back onto the source image.
    """
    geom = sample_geometry(rng, image.shape[:2], params)
    view = warp_image(image, geom, params.mean)
    view_oversegmentation = warp_labels(oversegmentation, geom)
    if params.colour_enabled:
        # The original wraps the view as a PIL image: (x * 255).astype(uint8) truncates.
        view = colour_augment((view * 255).astype(np.uint8), rng, params)
    return normalise(view, params.mean, params.std), view_oversegmentation, geom


# ------------------------------------------------------------------------------------------ evaluation
def longer_side_size(size: tuple[int, int], longer: int) -> tuple[int, int]:
    """(h, w) after scaling so that the longer side is ``longer`` (the original truncates with int())."""
    h, w = size
    ratio = min(longer / h, longer / w)
    return max(1, int(ratio * h)), max(1, int(ratio * w))


def pad_bottom_right(array: np.ndarray, size: tuple[int, int], value: float | int) -> np.ndarray:
    """Pad to at least ``size`` (h, w) at the bottom/right; a larger array keeps its size there."""
    h, w = array.shape[:2]
    out_h, out_w = max(h, size[0]), max(w, size[1])
    if (out_h, out_w) == (h, w):
        return array
    out = np.full((out_h, out_w) + array.shape[2:], value, dtype=array.dtype)
    out[:h, :w] = array
    return out


__all__ = ["AugmentParams", "Geometry", "augment_params_from_config",
           "sample_geometry", "warp_image", "warp_labels", "resize_nearest", "luma", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "to_grayscale", "color_jitter",
           "colour_augment", "normalise", "augment_view", "longer_side_size", "pad_bottom_right"]
