"""The segment hierarchy of any image: over-segmentation, k-means segments, fine and coarse groups.

The original computed this hierarchy only inside its training step and never showed it. Here it is
computed as in that step, so that what a figure shows is what the losses shaped:

* the training build of the backbone (output stride ``network.output_stride``) and k-means with the
  training grid, intersected with the over-segmentation when there is one;
* each image is paired with its mirror image as the second view, so its node sequence holds the segments
  of two views, as in training, and the groups are shared by both.

**An image's hierarchy depends on the image and the model alone** (``test.group_statistics``, measured in
docs/ablations.md). The transformers normalise with BatchNorm; in the original's training step they always
used the statistics of the batch being grouped, so the same photo would get other groups beside other
photos. The default, ``image``, groups every image alone with the statistics of its own sequence, paired
with its upside-down copy (whose result is discarded: the decoder batch-normalises per-sequence statistics,
which one sequence cannot spread); its groups follow the classes best on CamVid and VOC. ``running`` uses
the statistics the transformers learned in training (eval mode); ``batch`` is the original's training
behaviour, kept to measure the choice (``benchmarks/hierarchy_levels.py``).

**Levels are drawn at the image's own resolution**: every pixel of the photo takes the segment whose
centroid (embedding and location, the vector k-means clusters) is nearest to its bilinearly upsampled
embedding, among the segments of its own over-segmentation region when there is one; so boundaries follow
the over-segmentation's edges, not the cells of the embedding grid. Fine and coarse groups are the groups of
those segments. ``full_resolution=False`` gives the embedding grid's cells enlarged by nearest neighbour,
as this code did before (for comparison).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from hsg.clustering.kmeans import Segments, embedding_with_location, l2_normalize, segment_sums
from hsg.config.config import Config
from hsg.data.datasets import EvalDataset
from hsg.data.io import read_image
from hsg.data.loader import build_eval_loader
from hsg.errors import CheckpointError, ConfigError, DataError
from hsg.files import write_image
from hsg.vis.figures import hierarchy_figure, nested_colors
from hsg.vis.pictures import level_picture

STATISTICS = ("running", "image", "batch")
_CHUNK_PIXELS = 1 << 17  # pixels assigned at once: bounds the [pixels, segments] score matrix


@dataclass
class HierarchyMaps:
    """Label maps ``[H, W]`` (int64) of every level of one image; -1 where there is no label.

    ``segments`` are numbered 0.. within the image. ``embedding`` (on request) is the L2-normalised pixel
    embedding ``[C, H, W]`` (float32) the levels were drawn from."""

    oversegmentation: np.ndarray | None
    segments: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    embedding: np.ndarray | None = None


@contextmanager
def grouping_mode(model, statistics: str):
    """Backbone in eval mode, no dropout, nothing updated; the transformers' BatchNorm uses the running
    statistics (``running``) or the statistics of the sequences being grouped (``image``, ``batch``)."""
    was_training = model.training
    norms = [m for name in ("fine_transformer", "coarse_transformer")
             for m in getattr(model, name).modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    model.eval()
    if statistics != "running":
        for m in norms:
            m.train()
            m.momentum = 0.0  # running = (1 - 0) * running: the statistics stay as trained
    try:
        yield
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)


def _check(model, statistics: str) -> None:
    if not getattr(model, "hierarchy", False):
        raise CheckpointError("this checkpoint has no clustering transformers (a stage-1 model); the fine and "
                              "coarse groups need a stage-2 model (network.hierarchy: true)")
    if statistics not in STATISTICS:
        raise ConfigError(f"test.group_statistics must be one of {', '.join(STATISTICS)}, got '{statistics}'")


def group_views(model, images: torch.Tensor, regions: torch.Tensor, statistics: str, train_output_stride: int):
    """Embed the images and their mirrors, segment and group them: ``(embedding, segments, hierarchy)``
    over the interleaved views (image i = views 2i and 2i+1)."""
    lone = images.shape[0] == 1 and statistics != "running"
    if lone:  # batch statistics need two sequences: add an upside-down copy (its views come last)
        images = torch.cat([images, images.flip(-2)])
        regions = torch.cat([regions, regions.flip(-2)])
    views = torch.stack([images, images.flip(-1)], dim=1).flatten(0, 1)
    view_regions = torch.stack([regions, regions.flip(-1)], dim=1).flatten(0, 1)
    was_stride = model.backbone.output_stride
    model.set_output_stride(train_output_stride)
    try:
        with grouping_mode(model, statistics):
            embedding = model.embed(views).float()
            segments = model.segment(embedding, view_regions)
            hierarchy = model.group(embedding, segments)
    finally:
        model.set_output_stride(was_stride)
    return embedding, segments, hierarchy


def _sample_positions(out_size: tuple[int, int], valid: tuple[int, int], canvas: tuple[int, int],
                      grid: tuple[int, int], rows: slice, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """For the output pixels of ``rows``: ``grid_sample`` coordinates ``[1, r, W, 2]`` into the embedding
    grid, and the k-means location features ``[r * W, 2]`` (y, x) at those points.

    A pixel centre of the output (the photo) maps to the resized canvas the network saw, then to the grid
    (``align_corners=False`` geometry, as bilinear upsampling); the location feature is the grid's own
    ``linspace(0, 1) - 0.5`` continued between grid points, so full-resolution pixels and grid cells are
    compared on one scale."""
    (big_h, big_w), (hv, wv), (hp, wp), (h, w) = out_size, valid, canvas, grid
    y = (torch.arange(rows.start, rows.stop, device=device, dtype=torch.float32) + 0.5) * hv / big_h  # canvas
    x = (torch.arange(big_w, device=device, dtype=torch.float32) + 0.5) * wv / big_w
    gy, gx = y * h / hp - 0.5, x * w / wp - 0.5  # grid index coordinates
    sample = torch.stack(torch.broadcast_tensors(2 * x[None, :] / wp - 1, 2 * y[:, None] / hp - 1), dim=-1)
    ly = gy / max(h - 1, 1) - 0.5
    lx = gx / max(w - 1, 1) - 0.5
    loc = torch.stack(torch.broadcast_tensors(ly[:, None], lx[None, :]), dim=-1).reshape(-1, 2)
    return sample[None], loc


@torch.no_grad()
def assign_pixels(embedding: torch.Tensor, centroids: torch.Tensor, segment_region: torch.Tensor,
                  regions: torch.Tensor | None, out_size: tuple[int, int], valid: tuple[int, int],
                  canvas: tuple[int, int], with_embedding: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every pixel of the photo to one of its image's segments.

    Args:
        embedding: ``[C, h, w]`` raw embedding of the image (its canvas, at the grid).
        centroids: ``[S, C + 2]`` L2-normalised mean (embedding, location) vector of each segment.
        segment_region: ``[S]`` over-segmentation region of each segment.
        regions: ``[H, W]`` region ids at the photo's size, or None (then any segment may take a pixel).
        out_size: ``(H, W)``; valid: the image's size inside the canvas; canvas: the canvas size.

    Returns ``(ids [H, W] in 0..S-1, embedding [C, H, W] L2-normalised or None)``. A pixel whose region has
    no segment (a region too small to hold a grid cell) takes the nearest segment of the whole image.
    """
    big_h, big_w = out_size
    c, h, w = embedding.shape
    rows_per_chunk = max(1, _CHUNK_PIXELS // big_w)
    ids = torch.empty(big_h, big_w, dtype=torch.long, device=embedding.device)
    dense = embedding.new_empty(c, big_h, big_w) if with_embedding else None
    # The k-means vector of a pixel is (e/|e|, y, x) / sqrt(1 + y^2 + x^2); that last factor is positive and
    # the same for every segment, so the nearest centroid is the argmax of e/|e| . c_e + (y, x) . c_yx.
    by_embedding, by_location = centroids[:, :c].t(), centroids[:, c:].t()
    only = None  # region -> its one segment (-1: none or several), so most pixels need no scoring
    if regions is not None:
        size = int(max(regions.max().item(), segment_region.max().item())) + 1
        count = torch.bincount(segment_region, minlength=size)
        only = torch.full((size,), -1, dtype=torch.long, device=embedding.device)
        single = count[segment_region] == 1
        only[segment_region[single]] = torch.nonzero(single).squeeze(1)
    for start in range(0, big_h, rows_per_chunk):
        rows = slice(start, min(big_h, start + rows_per_chunk))
        chunk = ids[rows].view(-1)
        todo = None
        if only is not None:
            chunk.copy_(only[regions[rows].reshape(-1)])
            todo = torch.nonzero(chunk < 0).squeeze(1)
            if todo.numel() == 0 and dense is None:
                continue
        sample, loc = _sample_positions(out_size, valid, canvas, (h, w), rows, embedding.device)
        up = F.grid_sample(embedding[None], sample, mode="bilinear", padding_mode="border", align_corners=False)
        up = l2_normalize(up[0].reshape(c, -1).t().contiguous())  # [r * W, C]
        if dense is not None:
            dense[:, rows] = up.t().reshape(c, rows.stop - rows.start, big_w)
        if todo is None:
            chunk.copy_(torch.addmm(loc @ by_location, up, by_embedding).argmax(dim=1))
            continue
        scores = torch.addmm(loc[todo] @ by_location, up[todo], by_embedding)  # [n, S], each within [-2, 2]
        # A segment of the pixel's own region outscores every other one (none there: the nearest anywhere).
        scores.add_((regions[rows].reshape(-1)[todo, None] == segment_region[None, :]).to(scores.dtype), alpha=8.0)
        chunk[todo] = scores.argmax(dim=1)
    return ids, dense


def _segment_centroids(embedding: torch.Tensor, segments: Segments) -> torch.Tensor:
    """``[S, C + 2]``: the L2-normalised sum of each segment's (embedding, location) k-means vectors."""
    _, with_location = embedding_with_location(embedding)
    vectors = with_location.reshape(-1, with_location.shape[-1])[segments.pixel_index]
    return l2_normalize(segment_sums(vectors, segments.pixel_segment, segments.count))


def _resize_nearest(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(labels.shape) == tuple(size):
        return labels
    return F.interpolate(labels[None, None].float(), size=size, mode="nearest")[0, 0].long()


@torch.no_grad()
def batch_hierarchy(model, images: torch.Tensor, valid_sizes: list[tuple[int, int]],
                    oversegmentation: torch.Tensor | None = None, *, train_output_stride: int,
                    statistics: str = "image", out_sizes: list[tuple[int, int]] | None = None,
                    full_regions: list[np.ndarray | None] | None = None, full_resolution: bool = True,
                    with_embedding: bool = False) -> list[HierarchyMaps]:
    """The hierarchy of every image of a batch.

    Args:
        model: a trained :class:`hsg.models.model.HSGModel` with ``hierarchy`` (stage 2).
        images: ``[N, 3, Hp, Wp]`` normalised, padded images.
        valid_sizes: ``(h, w)`` of each image inside the canvas.
        oversegmentation: optional ``[N, Hp, Wp]`` region ids (-1 on padding). Without it the segments are
            the k-means clusters alone.
        train_output_stride: the backbone's training output stride (``network.output_stride``).
        statistics: how the transformers normalise (module docstring).
        out_sizes: ``(H, W)`` the maps are returned at (the photos' own sizes); default the valid sizes.
        full_regions: each image's regions at its out size (sharper edges than the canvas's), or None.
        full_resolution: draw levels pixel by pixel at the out size (True) or enlarge the grid's cells.
        with_embedding: also return each image's normalised embedding at its out size.
    """
    _check(model, statistics)
    if statistics == "image" and images.shape[0] > 1:
        return [maps for i in range(images.shape[0]) for maps in batch_hierarchy(
            model, images[i:i + 1], valid_sizes[i:i + 1],
            None if oversegmentation is None else oversegmentation[i:i + 1], train_output_stride=train_output_stride,
            statistics=statistics, out_sizes=None if out_sizes is None else out_sizes[i:i + 1],
            full_regions=None if full_regions is None else full_regions[i:i + 1], full_resolution=full_resolution,
            with_embedding=with_embedding)]
    n, _, hp, wp = images.shape
    out_sizes = list(out_sizes or valid_sizes)
    given = oversegmentation is not None
    regions = oversegmentation
    if regions is None:
        regions = torch.full((n, hp, wp), -1, dtype=torch.long, device=images.device)
        for i, (h, w) in enumerate(valid_sizes):
            regions[i, :h, :w] = 0
    regions = regions.to(images.device).long()
    embedding, segments, hierarchy = group_views(model, images, regions, statistics, train_output_stride)
    centroids = _segment_centroids(embedding, segments) if full_resolution or with_embedding else None
    gh, gw = embedding.shape[-2:]
    result = []
    for i, ((hv, wv), out) in enumerate(zip(valid_sizes, out_sizes)):
        own = (segments.view == 2 * i).nonzero(as_tuple=True)[0]  # the first view's segments, in id order
        if full_resolution:
            full = None
            if given:
                full = full_regions[i] if full_regions is not None and full_regions[i] is not None else None
                full = (torch.as_tensor(np.asarray(full), device=images.device).long() if full is not None
                        else _resize_nearest(regions[i, :hv, :wv], out))
            local, dense = assign_pixels(embedding[2 * i], centroids[own], segments.region[own], full, out,
                                         (hv, wv), (hp, wp), with_embedding)
        else:  # the grid's cells, enlarged by nearest neighbour
            grid = segments.pixel_map(segments.pixel_segment)[2 * i]
            canvas = F.interpolate(grid[None, None].float(), size=(hp, wp), mode="nearest")[0, 0].long()
            local = torch.searchsorted(own, _resize_nearest(canvas[:hv, :wv], out).clamp_min(0).contiguous())
            local = torch.where(_resize_nearest(canvas[:hv, :wv], out) >= 0, local, -1)
            dense = None
            if with_embedding:
                up = F.interpolate(embedding[2 * i:2 * i + 1], size=(hp, wp), mode="bilinear", align_corners=False)
                dense = l2_normalize(F.interpolate(up[:, :, :hv, :wv], size=out, mode="bilinear",
                                                   align_corners=False)[0], dim=0)
        valid = local >= 0
        safe = local.clamp_min(0)
        fine = torch.where(valid, hierarchy.fine.segment_label[own][safe], -1)
        coarse = torch.where(valid, hierarchy.coarse.segment_label[own][safe], -1)
        overseg = None
        if given:
            overseg = (np.asarray(full_regions[i]) if full_regions is not None and full_regions[i] is not None
                       else _resize_nearest(regions[i, :hv, :wv], out).cpu().numpy())
        result.append(HierarchyMaps(overseg, local.cpu().numpy(), fine.cpu().numpy(), coarse.cpu().numpy(),
                                    None if dense is None else dense.cpu().numpy()))
    return result


def hierarchy_of_batch(cfg: Config, model, batch: dict, device: torch.device, with_embedding: bool = False
                       ) -> list[HierarchyMaps]:
    """The hierarchy of a batch of :func:`hsg.data.datasets.eval_collate`, at each photo's own size: the one
    path from prepared images to levels, shared by ``pyenv/hierarchy.py`` and :mod:`hsg.api`.

    Unless ``test.group_statistics`` is ``batch`` (the original's behaviour, kept for comparison), every
    image runs alone on its own canvas (the image padded to ``test.crop_size``), so that its result is the
    same bit for bit in any batch and order: the k-means grid and location features span the canvas, the
    network sees the padding, and batched convolutions round differently from single ones (about 1e-6),
    which is enough to flip a node between two nearly tied groups. The batch still feeds the loader."""
    statistics = cfg.test.group_statistics

    def run(images, valid, regions, out, full) -> list[HierarchyMaps]:
        return batch_hierarchy(model, images.to(device), valid, regions, train_output_stride=cfg.network.output_stride,
                               statistics=statistics, out_sizes=out, full_regions=full, with_embedding=with_embedding)

    if statistics == "batch":
        return run(batch["image"], batch["valid_size"], batch["oversegmentation"], batch["orig_size"],
                   batch["oversegmentation_full"])
    crop_h, crop_w = cfg.test.crop_size
    results = []
    for i, (h, w) in enumerate(batch["valid_size"]):
        ch, cw = max(h, crop_h), max(w, crop_w)
        regions = batch["oversegmentation"]
        results += run(batch["image"][i:i + 1, :, :ch, :cw], [(h, w)],
                       None if regions is None else regions[i:i + 1, :ch, :cw], [batch["orig_size"][i]],
                       [batch["oversegmentation_full"][i]])
    return results


def check_output_names(names: list[str]) -> None:
    """Two images whose pictures would overwrite each other (the same path with another extension) are an
    error naming the output, before anything is drawn."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(name, "two images share this output name (the same path with another extension); "
                                  "rename one of them")
        seen.add(name)


def hierarchy_pictures(cfg: Config, model, dataset: EvalDataset, save_dir: str | Path, device: torch.device) -> int:
    """For every image of ``dataset``: a PNG of each level at the image's own size
    (``hierarchy/<level>/<name>.png``, see :func:`hsg.vis.pictures.level_picture`: palette PNGs in the
    figure's colours whose values are the legend's ids) and one composite figure
    (``hierarchy/figure/<name>.png``). ``<name>`` is the image's path without extension, sub-folders kept.
    Images are grouped in batches of ``test.batch_size``. Returns the number of images."""
    save_dir = Path(save_dir)
    names = [sample.name for sample in dataset.samples]
    check_output_names(names)
    queries = {"fine": cfg.train.fine_hrchy_clusters, "coarse": cfg.train.coarse_hrchy_clusters}
    loader = build_eval_loader(cfg, dataset, batch_size=cfg.test.batch_size)
    index = 0
    for batch in tqdm(loader, desc="hierarchy", unit="batch", dynamic_ncols=True):
        for i, maps in enumerate(hierarchy_of_batch(cfg, model, batch, device)):
            name = names[index]
            index += 1
            rgb = read_image(batch["image_path"][i])
            levels = {"oversegmentation": maps.oversegmentation, "segments": maps.segments,
                      "fine": maps.fine, "coarse": maps.coarse}
            fine_col, coarse_col = nested_colors(maps.fine, maps.coarse)
            colours = {"fine": fine_col, "coarse": coarse_col}
            for level, labels in levels.items():
                if labels is not None:
                    write_image(save_dir / "hierarchy" / level / f"{name}.png",
                                level_picture(labels, colours.get(level)))
            figure = hierarchy_figure(rgb, levels, title=name, queries=queries)
            write_image(save_dir / "hierarchy" / "figure" / f"{name}.png", figure)
    return index


__all__ = ["HierarchyMaps", "STATISTICS", "assign_pixels", "batch_hierarchy", "check_output_names", "group_views",
           "grouping_mode", "hierarchy_of_batch",
           "hierarchy_pictures"]
