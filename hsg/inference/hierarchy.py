"""The segment hierarchy of any image: over-segmentation, k-means segments, fine and coarse groups.

The original computed this hierarchy only inside its training step and never showed it. Here it is
computed as in that step, so that what a figure shows is what the losses shaped:

* the training build of the backbone (output stride ``network.output_stride``) and k-means with the
  training grid, intersected with the over-segmentation when there is one;
* each image is paired with its mirror image as the second view, so its node sequence holds the segments
  of two views, as in training, and the groups are shared by both;
* the transformers normalise with the statistics of the batch being grouped, as they always did in the
  original (its BatchNorm transformers never ran in eval mode); their running statistics are left
  untouched and dropout is off. A batch therefore needs at least two images: a lone image is grouped
  together with its upside-down copy, whose result is discarded.

Each level is returned as a label map at the image's (resized) resolution, from the first view.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from hsg.config.config import Config
from hsg.data.datasets import EvalDataset
from hsg.data.loader import build_eval_loader
from hsg.errors import CheckpointError, DataError
from hsg.files import write_image
from hsg.vis.figures import hierarchy_figure, nested_colors
from hsg.vis.pictures import level_picture


@dataclass
class HierarchyMaps:
    """Label maps ``[h, w]`` (int64) of every level for one image; -1 where there is no label."""

    oversegmentation: np.ndarray | None
    segments: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray


@contextmanager
def grouping_mode(model):
    """Backbone in eval mode, transformers normalising with batch statistics, nothing updated, no dropout."""
    was_training = model.training
    norms = [m for name in ("fine_transformer", "coarse_transformer")
             for m in getattr(model, name).modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.train()
        m.momentum = 0.0  # running = (1 - 0) * running: the statistics stay as trained
    try:
        yield
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def batch_hierarchy(model, images: torch.Tensor, valid_sizes: list[tuple[int, int]],
                    oversegmentation: torch.Tensor | None = None, train_output_stride: int = 16) -> list[HierarchyMaps]:
    """The hierarchy of every image of a batch.

    Args:
        model: a trained :class:`hsg.models.model.HSGModel` with ``hierarchy`` (stage 2).
        images: ``[N, 3, Hp, Wp]`` normalised, padded images.
        valid_sizes: ``(h, w)`` of each image inside the canvas; the maps are returned at this size.
        oversegmentation: optional ``[N, Hp, Wp]`` region ids (-1 on padding). Without it the segments are
            the k-means clusters alone.
    """
    if not getattr(model, "hierarchy", False):
        raise CheckpointError("this checkpoint has no clustering transformers (a stage-1 model); the fine and "
                              "coarse groups need a stage-2 model (network.hierarchy: true)")
    n, _, hp, wp = images.shape
    given = oversegmentation is not None
    regions = oversegmentation
    if regions is None:
        regions = torch.full((n, hp, wp), -1, dtype=torch.long, device=images.device)
        for i, (h, w) in enumerate(valid_sizes):
            regions[i, :h, :w] = 0
    regions = regions.to(images.device).long()
    lone = n == 1
    if lone:  # batch statistics need two sequences: add an upside-down copy
        images = torch.cat([images, images.flip(-2)])
        regions = torch.cat([regions, regions.flip(-2)])
    # Views interleaved as in training: image i, then its mirror.
    views = torch.stack([images, images.flip(-1)], dim=1).flatten(0, 1)
    view_regions = torch.stack([regions, regions.flip(-1)], dim=1).flatten(0, 1)

    was_stride = model.backbone.output_stride
    model.set_output_stride(train_output_stride)
    try:
        with grouping_mode(model):
            embedding = model.embed(views).float()
            segments = model.segment(embedding, view_regions)
            hierarchy = model.group(embedding, segments)
    finally:
        model.set_output_stride(was_stride)

    maps = []
    for values in (torch.arange(segments.count, device=images.device), hierarchy.fine.segment_label,
                   hierarchy.coarse.segment_label):
        grid = segments.pixel_map(values[segments.pixel_segment])[0::2]  # the first view of each pair
        full = F.interpolate(grid[:, None].float(), size=(hp, wp), mode="nearest")
        maps.append(full[:, 0].long().cpu().numpy())
    result = []
    for i, (h, w) in enumerate(valid_sizes):
        overseg = regions[i, :h, :w].cpu().numpy() if given else None
        result.append(HierarchyMaps(overseg, *(m[i, :h, :w] for m in maps)))
    return result


def _at_size(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An id map at the image's own size (nearest)."""
    if labels.shape == tuple(size):
        return labels
    return cv2.resize(labels.astype(np.int32), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def hierarchy_pictures(cfg: Config, model, dataset: EvalDataset, save_dir: str | Path, device: torch.device) -> int:
    """For every image of ``dataset``: a PNG of each level at the image's own size
    (``hierarchy/<level>/<name>.png``, see :func:`hsg.vis.pictures.level_picture`: palette PNGs in the
    figure's colours whose values are the legend's ids) and one composite figure
    (``hierarchy/figure/<name>.png``). ``<name>`` is the image's path without extension, sub-folders kept.
    Images are grouped in batches of ``test.batch_size`` (at least 2: the transformers normalise with
    batch statistics, see above). Returns the number of images."""
    save_dir = Path(save_dir)
    names = [sample.name for sample in dataset.samples]
    clash = next((n for n in set(names) if names.count(n) > 1), None)
    if clash is not None:
        raise DataError(clash, "two images share this output name (the same path with another extension); "
                               "rename one of them")
    with_oversegmentation = dataset.with_oversegmentation
    queries = {"fine": cfg.train.fine_hrchy_clusters, "coarse": cfg.train.coarse_hrchy_clusters}
    loader = build_eval_loader(cfg, dataset, batch_size=max(2, cfg.test.batch_size))
    index = 0
    for batch in tqdm(loader, desc="hierarchy", unit="batch", dynamic_ncols=True):
        results = batch_hierarchy(model, batch["image"].to(device), batch["valid_size"],
                                  batch["oversegmentation"] if with_oversegmentation else None,
                                  train_output_stride=cfg.network.output_stride)
        for i, maps in enumerate(results):
            name = names[index]
            index += 1
            h, w = batch["valid_size"][i]
            rgb = np.asarray(Image.open(batch["image_path"][i]).convert("RGB"))
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            levels = {"oversegmentation": maps.oversegmentation, "segments": maps.segments,
                      "fine": maps.fine, "coarse": maps.coarse}
            fine_col, coarse_col = nested_colors(maps.fine, maps.coarse)
            colours = {"fine": fine_col, "coarse": coarse_col}
            for level, labels in levels.items():
                if labels is not None:
                    picture = level_picture(_at_size(labels, batch["orig_size"][i]), colours.get(level))
                    write_image(save_dir / "hierarchy" / level / f"{name}.png", picture)
            figure = hierarchy_figure(rgb, levels, title=name, queries=queries)
            write_image(save_dir / "hierarchy" / "figure" / f"{name}.png", figure)
    return index
