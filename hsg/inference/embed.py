"""Dense embeddings of whole images: sliding window, optional scales and flip, batched.

As the original: each window is embedded by the output-stride-8 build, bilinearly upsampled to the window
size, L2-normalised per pixel, and accumulated on the canvas; overlapping windows are averaged. Scales and
flip (off by default, as the original) average the normalised embeddings of the rescaled/mirrored canvas.
The averages are not renormalised here: k-means normalises what it reads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def window_starts(size: int, crop: int, stride: int) -> list[int]:
    """Window start offsets along one axis: ends spaced evenly from ``crop`` to ``size`` (as the original)."""
    if size <= crop:
        return [0]
    count = math.ceil((size - crop) / stride) + 1
    ends = torch.linspace(crop, size, count).round().long().tolist()
    return [e - crop for e in ends]


def _embed_windows(model, canvas: torch.Tensor, crop: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    """``[N, 3, H, W]`` -> normalised, window-averaged ``[N, C, H, W]``."""
    n, _, h, w = canvas.shape
    ch, cw = min(crop[0], h), min(crop[1], w)
    total = None
    counts = canvas.new_zeros(1, 1, h, w)
    for y in window_starts(h, ch, stride[0]):
        for x in window_starts(w, cw, stride[1]):
            patch = canvas[:, :, y:y + ch, x:x + cw]
            emb = model.embed(patch).float()
            emb = F.interpolate(emb, size=(ch, cw), mode="bilinear", align_corners=False)
            emb = F.normalize(emb, dim=1)
            if total is None:
                total = canvas.new_zeros(n, emb.shape[1], h, w, dtype=emb.dtype)
            total[:, :, y:y + ch, x:x + cw] += emb
            counts[:, :, y:y + ch, x:x + cw] += 1
    return total / counts


@torch.no_grad()
def embed_images(model, canvas: torch.Tensor, crop: tuple[int, int], stride: tuple[int, int],
                 scales: list[float] = (1.0,), flip: bool = False, amp: bool = False) -> torch.Tensor:
    """Embeddings ``[N, C, H, W]`` at full canvas resolution, averaged over scales and flips."""
    n, _, h, w = canvas.shape
    total, views = None, 0
    with torch.autocast(canvas.device.type, dtype=torch.bfloat16, enabled=amp):
        for scale in scales:
            image = canvas if scale == 1 else F.interpolate(
                canvas, scale_factor=scale, mode="bilinear", align_corners=False)
            for mirrored in ((False, True) if flip else (False,)):
                x = image.flip(-1) if mirrored else image
                emb = _embed_windows(model, x, crop, stride)
                if mirrored:
                    emb = emb.flip(-1)
                if emb.shape[-2:] != (h, w):
                    emb = F.normalize(F.interpolate(emb, size=(h, w), mode="bilinear", align_corners=False), dim=1)
                total = emb if total is None else total + emb
                views += 1
    return total / views
