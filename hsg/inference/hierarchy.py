"""The segment hierarchy of any image: over-segmentation, k-means segments, fine and coarse groups.

The original computed this hierarchy only inside its training step and never showed it. Here it runs on
one image at a time with the trained model in eval mode: the training build of the backbone (output
stride 16, the features the transformers learned on), k-means with the training grid (intersected with
the over-segmentation when one is given), the fine transformer on the image's segments and the coarse
transformer on the fine groups. Each level is returned as a label map at the image's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hsg.clustering.kmeans import legacy_nearest_resize
from hsg.models.convert import CheckpointError


@dataclass
class HierarchyMaps:
    """Label maps ``[H, W]`` (int64, -1 on padding) of every level for one image."""

    oversegmentation: np.ndarray | None
    segments: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray


def _pixel_map(values: torch.Tensor, pixel_index: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    out = torch.full((hw[0] * hw[1],), -1, dtype=torch.long, device=values.device)
    out[pixel_index] = values
    return out.view(hw)


@torch.no_grad()
def image_hierarchy(model, image: torch.Tensor, valid_size: tuple[int, int], region: torch.Tensor | None = None,
                    train_output_stride: int = 16) -> HierarchyMaps:
    """The hierarchy of one normalised, padded image ``[3, Hp, Wp]``.

    Args:
        model: a trained :class:`hsg.models.embedding.HSGModel` with ``hierarchy`` (stage 2).
        valid_size: ``(h, w)`` of the image inside the canvas; the maps are returned at this size.
        region: optional ``[Hp, Wp]`` over-segmentation (-1 on padding). Without it the segments are the
            k-means clusters alone.
    """
    if not getattr(model, "hierarchy", False):
        raise CheckpointError("this checkpoint has no clustering transformers (a stage-1 model); the fine and "
                         "coarse groups need a stage-2 model (network.hierarchy: true)")
    was_training, was_stride = model.training, model.backbone.output_stride
    model.eval()
    model.set_output_stride(train_output_stride)
    try:
        x = image.unsqueeze(0)
        embedding = model.embed(x).float()
        h, w = valid_size
        fh, fw = embedding.shape[-2:]
        if region is None:
            valid = torch.zeros(image.shape[-2:], dtype=torch.long, device=image.device)
            valid[h:, :] = -1
            valid[:, w:] = -1
            region_in = valid
        else:
            region_in = region.to(image.device).long()
        # Nodes are the segments of this single image; the pair dimension expects two views, so the image
        # is paired with an empty (all-padding) view.
        small = legacy_nearest_resize(region_in[None], (fh, fw))
        small = torch.cat([small, torch.full_like(small, -1)])
        emb2 = torch.cat([embedding, torch.zeros_like(embedding)])
        out = model.segment(emb2, small)
        model.group(emb2, out)
        hw = (fh, fw)
        maps = [_pixel_map(out[k], out["pixel_index"], hw) for k in ("pixel_segment", "pixel_fine", "pixel_coarse")]
        full = [F.interpolate(m[None, None].float(), size=image.shape[-2:], mode="nearest")[0, 0].long()[:h, :w]
                for m in maps]
        overseg = region_in[:h, :w].cpu().numpy() if region is not None else None
        return HierarchyMaps(overseg, *(m.cpu().numpy() for m in full))
    finally:
        model.train(was_training)
        model.set_output_stride(was_stride)
