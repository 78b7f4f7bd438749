"""Cutting evaluation images into segments, each with a feature vector: what every read-out reads.

A *segmenter* turns a batch of the evaluation loader into, for each image, a map of segment ids and one
L2-normalised feature per segment. The network's segmenter embeds the image (sliding window, scales,
flip), clusters the embedding with spherical k-means from the test grid and takes each segment's
prototype as its feature, as the original's prototype and inference scripts do. Baselines plug in
through the same interface (``benchmarks/small_scale/baselines.py``), so they are read out exactly as
the network is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from hsg.config.config import Config
from hsg.data.datasets import EvalDataset
from hsg.data.loader import build_eval_loader
from hsg.errors import CheckpointError, DataError
from hsg.inference.embed import embed_images
from hsg.inference.memory import image_segments


@dataclass
class ImageSegments:
    """One evaluation image cut into S segments."""

    name: str  # output file stem (the image's base name)
    ids: torch.Tensor  # [h, w] int64 segment ids 0..S-1 at the resized image size
    features: torch.Tensor  # [S, D] L2-normalised feature of each segment
    label: torch.Tensor  # [h, w] int64 ground truth resized to the same size (nearest; all ignore if absent)
    orig_size: tuple[int, int]  # (H, W) of the image file, where predictions are written
    image_path: str

    @property
    def sizes(self) -> torch.Tensor:
        """``[S]`` pixel count of every segment."""
        return torch.bincount(self.ids.reshape(-1), minlength=self.features.shape[0])


class Segmenter(Protocol):
    """``segmenter(batch) -> [(ids [h, w] dense 0..S-1, features [S, D]) for each image of the batch]``."""

    needs_oversegmentation: bool

    def __call__(self, batch: dict[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        ...


def _valid_mask(valid_sizes: list[tuple[int, int]], canvas: tuple[int, int], device: torch.device) -> torch.Tensor:
    mask = torch.zeros((len(valid_sizes),) + canvas, dtype=torch.bool, device=device)
    for i, (h, w) in enumerate(valid_sizes):
        mask[i, :h, :w] = True
    return mask


class NetworkSegmenter:
    """k-means segments of a model's embedding (``test.*`` keys: windows, scales, flip, grid, iterations),
    cut by the over-segmentation's regions with ``test.oversegmentation`` (as training cuts them)."""

    def __init__(self, cfg: Config, model: Any, device: torch.device) -> None:
        self.cfg, self.model, self.device = cfg, model, device
        self.iterations = cfg.test.kmeans_iterations or cfg.network.kmeans_iterations
        self.needs_oversegmentation = bool(cfg.test.oversegmentation)

    def __call__(self, batch: dict[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        t = self.cfg.test
        images = batch["image"].to(self.device)
        embedding = embed_images(self.model, images, tuple(t.crop_size), tuple(t.stride), t.scales, t.flip,
                                 amp=self.cfg.train.amp and self.device.type == "cuda")
        if not torch.isfinite(embedding).all():
            raise CheckpointError(f"the network's embedding of {batch['image_path'][0]} is not finite (NaN or "
                                  f"infinite): a damaged or diverged checkpoint?")
        if self.needs_oversegmentation:  # region ids, -1 on padding
            regions = batch["oversegmentation"].to(self.device).long()
        else:  # one region per image: segments = clusters
            regions = torch.where(_valid_mask(batch["valid_size"], tuple(images.shape[-2:]), self.device), 0, -1)
        ids, prototypes = image_segments(embedding, regions, t.kmeans_num_clusters, self.iterations)
        out = []
        for i, (h, w) in enumerate(batch["valid_size"]):
            seg = ids[i, :h, :w].contiguous()  # a cropped view; searchsorted copies (and warns) otherwise
            used = torch.unique(seg)  # every pixel inside the image has a segment (no -1 here)
            out.append((torch.searchsorted(used, seg).cpu(), prototypes[used].float().cpu()))
        return out


def resize_label(label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A label map resized (nearest, as OpenCV) to ``size`` (h, w)."""
    if tuple(label.shape) == tuple(size):
        return label
    out = cv2.resize(label.numpy().astype(np.int32), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return torch.from_numpy(out.astype(np.int64))


def output_names(dataset: EvalDataset) -> list[str]:
    """Flat output names (base names, as the original writes them, so that predictions pair with VOC or
    Cityscapes ground-truth folders by name); two images with one base name are an error, not an overwrite."""
    seen: dict[str, str] = {}
    names = []
    for sample in dataset.samples:
        base = Path(sample.name).name
        if base in seen:
            raise DataError(sample.image, f"two images share the output name '{base}': {seen[base]} and "
                                          f"{sample.image}; outputs are written to flat folders, so rename one of "
                                          f"them", sample.where)
        seen[base] = sample.image
        names.append(base)
    return names


def segment_images(cfg: Config, segmenter: Segmenter, data_dir: str, data_list: str,
                   batch_size: int | None = None) -> Iterator[ImageSegments]:
    """Every image of a list, cut into segments by ``segmenter``, in list order."""
    dataset = EvalDataset(cfg, data_dir, data_list, with_oversegmentation=segmenter.needs_oversegmentation)
    names = output_names(dataset)
    index = 0
    with torch.no_grad():
        for batch in build_eval_loader(cfg, dataset, batch_size):
            for i, (ids, features) in enumerate(segmenter(batch)):
                yield ImageSegments(names[index], ids, features, resize_label(batch["semantic_label"][i], ids.shape),
                                    tuple(batch["orig_size"][i]), batch["image_path"][i])
                index += 1


def batch_share(count: int, batch_size: int, rank: int, world: int) -> list[int]:
    """The dataset indices of the batches ``rank, rank + world, ...`` of an in-order loader: each process of a
    job takes whole batches of the one-process run, so every image is cut into segments in the same batch,
    on the same canvas, as it would be by one process, and the numbers are the same."""
    batches = range(rank, -(-count // batch_size), world)
    return [i for b in batches for i in range(b * batch_size, min((b + 1) * batch_size, count))]


def segment_share(cfg: Config, segmenter: Segmenter, data_dir: str, data_list: str, rank: int, world: int
                  ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """This process's share of a list cut into segments: ``{image path: (ids int32 [h, w], features [S, D])}``
    (see :func:`batch_share`); the processes of a job together cover the list once."""
    dataset = EvalDataset(cfg, data_dir, data_list, with_oversegmentation=segmenter.needs_oversegmentation)
    share = torch.utils.data.Subset(dataset, batch_share(len(dataset), cfg.test.batch_size, rank, world))
    out = {}
    with torch.no_grad():
        for batch in build_eval_loader(cfg, share):
            for path, (ids, features) in zip(batch["image_path"], segmenter(batch)):
                out[path] = (ids.to(torch.int32), features)
    return out


class ReplaySegmenter:
    """Segments computed before, by the processes of a ``torchrun`` job (:func:`segment_share`), handed out
    by image path: the read-outs then run on one process exactly as if it had computed them. The network
    (``model``, ``device``) stays reachable for what embeds pixels itself (the linear probe)."""

    def __init__(self, base: Segmenter, results: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.results = results
        self.needs_oversegmentation = base.needs_oversegmentation
        for name in ("model", "device"):
            if hasattr(base, name):
                setattr(self, name, getattr(base, name))

    def __call__(self, batch: dict[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(self.results[path][0].long(), self.results[path][1]) for path in batch["image_path"]]


__all__ = ["ImageSegments", "NetworkSegmenter", "ReplaySegmenter", "Segmenter", "batch_share", "output_names",
           "resize_label", "segment_images", "segment_share"]
