"""Pictures of what the model computes, for TensorBoard and the hierarchy figures.

Segment and group ids are arbitrary integers, so they are coloured with a fixed pseudo-random palette
(the same id always gets the same colour); embeddings are shown through their first three principal
components.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from hsg.models.model import ModelOutput


def id_palette(n: int, seed: int = 7) -> np.ndarray:
    """``[n, 3]`` uint8 colours, well spread and reproducible; id -1 (padding/ignored) is drawn black."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895 + rng.random()) % 1.0
    sat = 0.55 + 0.45 * rng.random(n)
    val = 0.65 + 0.35 * rng.random(n)
    i = np.floor(hues * 6).astype(int) % 6
    f = hues * 6 - np.floor(hues * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    rgb = np.choose(i[None], [np.stack(c) for c in
                              [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)]])
    return (rgb.T * 255).astype(np.uint8)


def color_ids(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """``[H, W]`` integer ids -> ``[H, W, 3]`` uint8; negative ids are black."""
    lab = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    lab = lab.astype(np.int64)
    out = np.zeros(lab.shape + (3,), np.uint8)
    valid = lab >= 0
    if valid.any():
        palette = id_palette(int(lab[valid].max()) + 1)
        out[valid] = palette[lab[valid]]
    return out


def level_picture(labels: np.ndarray, colors: dict[int, np.ndarray] | None = None):
    """A map of ids (``-1`` = none) to write as a PNG whose values are the ids themselves, the numbers of
    the figures' legends: an 8-bit *palette* PNG in the figures' colours (``colors``, else
    :func:`id_palette`) while the ids fit in 0..254, ``255`` standing for none; otherwise a 16-bit PNG of
    the raw ids, ``65535`` standing for none. Returns a PIL image or a ``uint16`` array."""
    from PIL import Image

    labels = np.asarray(labels).astype(np.int64)
    top = int(labels.max()) if labels.size else -1
    if top >= 255:
        return np.where(labels >= 0, labels, 65535).astype(np.uint16)
    palette = np.zeros((256, 3), np.uint8)
    palette[: top + 1] = id_palette(top + 1) if colors is None else 0
    for k, colour in (colors or {}).items():
        palette[k] = colour
    image = Image.fromarray(np.where(labels >= 0, labels, 255).astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist())
    return image


def pca_rgb(embedding: torch.Tensor) -> np.ndarray:
    """``[C, h, w]`` embedding -> ``[h, w, 3]`` uint8 picture of its first three principal components."""
    c, h, w = embedding.shape
    x = torch.nn.functional.normalize(embedding.detach().float().reshape(c, -1).t(), dim=1)
    x = x - x.mean(dim=0, keepdim=True)
    q = min(3, x.shape[0], x.shape[1])
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    proj = x @ v[:q].t()
    if q < 3:
        proj = torch.cat([proj, proj.new_zeros(proj.shape[0], 3 - q)], dim=1)
    lo, hi = proj.min(dim=0).values, proj.max(dim=0).values
    proj = (proj - lo) / (hi - lo).clamp_min(1e-8)
    return (proj.reshape(h, w, 3).cpu().numpy() * 255).astype(np.uint8)


def denormalize(image: torch.Tensor, mean: list[float], std: list[float]) -> np.ndarray:
    """Normalised ``[3, H, W]`` tensor -> ``[H, W, 3]`` uint8."""
    m = torch.tensor(mean, device=image.device)[:, None, None]
    s = torch.tensor(std, device=image.device)[:, None, None]
    rgb = (image.detach().float() * s + m).clamp(0, 1)
    return (rgb.permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)


def upsample_ids(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an id map to ``size`` (h, w), for side-by-side pictures."""
    h, w = ids.shape[:2]
    rows = np.arange(size[0]) * h // size[0]
    cols = np.arange(size[1]) * w // size[1]
    return ids[rows[:, None], cols[None, :]]


def training_pictures(images: torch.Tensor, oversegmentation: torch.Tensor, out: ModelOutput,
                      mean: list[float], std: list[float], view: int = 0) -> dict[str, np.ndarray]:
    """One view's image, over-segmentation, k-means segments, fine/coarse groups and embedding PCA,
    each at the crop resolution, for TensorBoard."""
    size = tuple(images.shape[-2:])
    seg = out.segments

    def per_pixel(segment_values: torch.Tensor) -> np.ndarray:
        return upsample_ids(seg.pixel_map(segment_values[seg.pixel_segment])[view].cpu().numpy(), size)

    pics = {
        "image": denormalize(images[view], mean, std),
        "oversegmentation": color_ids(oversegmentation[view]),
        "kmeans_segments": color_ids(per_pixel(torch.arange(seg.count, device=seg.view.device))),
        "embedding_pca": upsample_ids(pca_rgb(out.embedding[view]), size),
    }
    if out.hierarchy is not None:
        pics["fine_groups"] = color_ids(per_pixel(out.hierarchy.fine.segment_label))
        pics["coarse_groups"] = color_ids(per_pixel(out.hierarchy.coarse.segment_label))
    return pics
