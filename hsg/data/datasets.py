"""The two-view training dataset and the evaluation dataset, both read from list files.

Training (reference section 1.5/1.6): each item is two independent views (flip, scale, crop, colour)
of one image and its over-segmentation; the over-segmentation goes through its view's geometry, so a
region id names the same image region in both views. Ground-truth semantics are never read for training.

Randomness: every item draws a fresh ``numpy.random.Generator`` from the dataset's seed stream.
:mod:`hsg.data.loader` reseeds that stream per (seed, rank, worker, epoch), so runs are reproducible and
no two workers repeat each other's augmentations (the original's PyTorch < 1.9 pitfall).

Bad samples: by default the first bad file stops the run with a :class:`DataError` naming the file and
the list line. With ``dataset.skip_bad_samples`` the training set substitutes a random good sample, warns
once per bad sample and counts it in ``bad_samples`` (shared by all DataLoader workers); the evaluation
set checks every sample up front and drops the bad ones, because substituting would score an image twice.
"""

from __future__ import annotations

import warnings
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from hsg.data.io import check_same_size, read_ground_truth, read_image, read_label_map
from hsg.data.lists import Sample, read_list
from hsg.data.transforms import (augment_params_from_config, augment_view, longer_side_size, pad_bottom_right,
                                 resize_nearest)
from hsg.errors import BadSampleWarning, DataError


def read_oversegmentation(sample: Sample, image_shape: tuple[int, ...]) -> np.ndarray:
    """The over-segmentation of a sample: int64 region ids >= 0, same size as the image."""
    path = sample.oversegmentation
    assert path is not None
    regions = read_label_map(path, sample.where, rgb_ids=True).astype(np.int64)
    check_same_size(image_shape, regions, path, sample.image, sample.where)
    if regions.size and regions.min() < 0:
        raise DataError(path, f"negative region ids (min {int(regions.min())}); ids must be >= 0 because -1 "
                              f"marks padding", sample.where)
    return regions


def read_semantic(sample: Sample, image_shape: tuple[int, ...], num_classes: int, ignore: int,
                  label_map: str = "auto") -> np.ndarray:
    """The ground truth of a sample as int64 class ids, converted by ``label_map`` (``dataset.label_map``;
    ``auto``: Cityscapes labelIds to trainIds, anything else as it is; see :func:`read_ground_truth`)."""
    if sample.semantic_label is None:
        return np.full(image_shape[:2], ignore, dtype=np.int64)
    label = read_ground_truth(sample.semantic_label, label_map, sample.where)
    check_same_size(image_shape, label, sample.semantic_label, sample.image, sample.where)
    bad = (label < 0) | ((label >= num_classes) & (label != ignore))
    if bad.any():
        values = np.unique(label[bad])[:8].tolist()
        raise DataError(sample.semantic_label, f"labels out of range: {values} (expected 0..{num_classes - 1} "
                                               f"or the ignore value {ignore})", sample.where)
    return label


class TrainDataset(Dataset):
    """Two augmented views per image with their over-segmentations (list lines need column 3)."""

    def __init__(self, cfg: Any, data_dir: str, data_list: str, return_geometry: bool = False) -> None:
        self.params = augment_params_from_config(cfg)
        self.skip_bad = cfg.dataset.skip_bad_samples
        self.return_geometry = return_geometry
        self.samples = read_list(data_list, data_dir, require=("image", "oversegmentation"),
                                 check_exists=not self.skip_bad)
        # One byte per sample in shared memory: workers mark bad samples, the trainer reads the count.
        self._bad = torch.zeros(len(self.samples), dtype=torch.uint8).share_memory_()
        self.seed(cfg.seed)

    def seed(self, seed: int, epoch: int = 0) -> None:
        """Select an epoch's augmentation streams: sample ``i`` draws from its own generator seeded with
        (seed, epoch, i). Views therefore depend on neither the worker that loads them nor the number of
        workers or processes, and a run resumed mid-epoch draws exactly the views it would have drawn."""
        self._stream_key = (int(seed), int(epoch))

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def bad_samples(self) -> list[Sample]:
        """Samples skipped so far (in any worker); ``str()`` of each names the file and list line."""
        return [self.samples[i] for i in np.flatnonzero(self._bad.numpy())]

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Read and check the image (uint8 RGB) and over-segmentation (int64) of one list line."""
        sample = self.samples[index]
        image = read_image(sample.image, sample.where)
        return image, read_oversegmentation(sample, image.shape)

    def _load_good(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not self.skip_bad:
            return self.load(index)
        flags = self._bad.numpy()
        candidate = index
        while True:
            if not flags[candidate]:
                try:
                    return self.load(candidate)
                except DataError as e:
                    if not flags[candidate]:
                        flags[candidate] = 1
                        warnings.warn(f"skipping bad sample: {e}", BadSampleWarning, stacklevel=3)
            good = np.flatnonzero(flags == 0)
            if good.size == 0:
                raise DataError(self.samples[0].list_file, "every sample of the list is bad (see the warnings)")
            candidate = int(rng.choice(good))

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([*self._stream_key, int(index)])
        image, oversegmentation = self._load_good(index, rng)
        image = image.astype(np.float32) / 255  # the original's float [0, 1] image, before any warp
        views = [augment_view(image, oversegmentation, rng, self.params) for _ in range(2)]
        item: dict[str, Any] = {
            "image": torch.from_numpy(np.stack([v[0] for v in views])),
            "oversegmentation": torch.from_numpy(np.stack([v[1] for v in views])),
            # The requested index, also for a substituted sample: ids stay unique within a batch.
            "image_id": torch.tensor([index, index], dtype=torch.int64),
        }
        if self.return_geometry:
            item["geometry"] = tuple(v[2] for v in views)
        return item


class EvalDataset(Dataset):
    """Images resized to ``test.image_size`` (longer side, at most ``test.max_pixels`` pixels) and padded,
    with full-resolution ground truth. The images come from a list file, or are given as ``samples``
    (the images of a folder, say; then ``data_dir`` and ``data_list`` are not read)."""

    def __init__(self, cfg: Any, data_dir: str, data_list: str | None, with_oversegmentation: bool = False,
                 samples: list[Sample] | None = None) -> None:
        self.image_size = cfg.test.image_size
        self.max_pixels = cfg.test.max_pixels
        self.crop_size = tuple(cfg.test.crop_size)
        self.mean, self.std = cfg.network.pixel_means, cfg.network.pixel_stds
        self.num_classes = cfg.dataset.num_classes
        self.ignore = cfg.dataset.semantic_ignore_index
        self.label_map = cfg.dataset.label_map
        self.with_oversegmentation = with_oversegmentation
        self.skip_bad = cfg.dataset.skip_bad_samples
        require = ("image", "oversegmentation") if with_oversegmentation else ("image",)
        if samples is None:
            samples = read_list(data_list, data_dir, require=require,
                                check_exists=() if self.skip_bad else require + ("semantic_label",))
        self.bad_samples: list[Sample] = []
        if self.skip_bad:
            samples = self._drop_bad(samples)
        self.samples = samples

    def _drop_bad(self, samples: list[Sample]) -> list[Sample]:
        good = []
        for sample in samples:
            try:
                self._load(sample)
            except DataError as e:
                warnings.warn(f"skipping bad sample: {e}", BadSampleWarning, stacklevel=3)
                self.bad_samples.append(sample)
            else:
                good.append(sample)
        if not good:
            raise DataError(samples[0].list_file, "every sample of the list is bad (see the warnings)")
        return good

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        image = read_image(sample.image, sample.where)
        label = read_semantic(sample, image.shape, self.num_classes, self.ignore, self.label_map)
        regions = read_oversegmentation(sample, image.shape) if self.with_oversegmentation else None
        return image, label, regions

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        image, label, regions = self._load(sample)
        item = prepare_eval_image(image, regions, self.image_size, self.max_pixels, self.crop_size, self.mean,
                                  self.std)
        item.update(semantic_label=torch.from_numpy(label), name=sample.name, image_path=sample.image)
        return item


def prepare_eval_image(image: np.ndarray, regions: np.ndarray | None, image_size: int, max_pixels: int,
                       crop_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
                       ) -> dict[str, Any]:
    """An RGB ``uint8 [H, W, 3]`` image (and its over-segmentation at the same size) as the network reads it:
    normalised, resized so that the longer side is ``image_size`` (0: as is) and at most ``max_pixels``
    pixels, padded bottom/right to ``crop_size``. Files (:class:`EvalDataset`) and in-memory images
    (:mod:`hsg.api`) go through this one function, so both give the same numbers.

    Returns ``image [3, Hp, Wp]``, ``valid_size``, ``orig_size``, ``oversegmentation`` (at the canvas,
    -1 on padding, or None) and ``oversegmentation_full`` (the regions at the image's own size, from which
    the hierarchy's levels are drawn at full resolution, or None).
    """
    orig = image.shape[:2]
    valid = longer_side_size(orig, image_size) if image_size > 0 else orig
    if valid[0] * valid[1] > max_pixels:  # bounded memory for huge photos (test.max_pixels)
        scale = (max_pixels / (valid[0] * valid[1])) ** 0.5
        valid = (max(1, int(valid[0] * scale)), max(1, int(valid[1] * scale)))
    x = (image.astype(np.float32) / 255 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if valid != orig:  # normalise, then resize, as the original
        x = cv2.resize(x, (valid[1], valid[0]), interpolation=cv2.INTER_LINEAR)
    x = pad_bottom_right(x, crop_size, 0.0)
    canvas_regions = None
    if regions is not None:
        canvas_regions = pad_bottom_right(resize_nearest(regions, valid), crop_size, -1)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
        "valid_size": (int(valid[0]), int(valid[1])),
        "orig_size": (int(orig[0]), int(orig[1])),
        "oversegmentation": None if canvas_regions is None else torch.from_numpy(np.ascontiguousarray(canvas_regions)),
        "oversegmentation_full": regions,
    }


def train_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack items into interleaved views: image 0 view 0, image 0 view 1, image 1 view 0, ..."""
    # default_collate stacks straight into shared memory inside a worker (one copy instead of two);
    # [B, 2, ...] -> [2B, ...] is a view, which gives the interleaved order.
    batch: dict[str, Any] = {key: default_collate([item[key] for item in items]).flatten(0, 1)
                             for key in ("image", "oversegmentation", "image_id")}
    if "geometry" in items[0]:
        batch["geometry"] = [g for item in items for g in item["geometry"]]
    return batch


def _stack_padded(tensors: list[torch.Tensor], value: float) -> torch.Tensor:
    h = max(t.shape[-2] for t in tensors)
    w = max(t.shape[-1] for t in tensors)
    padded = []
    for t in tensors:
        if t.shape[-2:] != (h, w):
            t = torch.nn.functional.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]), value=value)
        padded.append(t)
    return default_collate(padded)


def eval_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images (and over-segmentations) on a common canvas, padding with 0 (-1); keep the rest as lists."""
    regions = [item["oversegmentation"] for item in items]
    return {
        "image": _stack_padded([item["image"] for item in items], 0.0),
        "oversegmentation": None if any(r is None for r in regions) else _stack_padded(regions, -1),
        "oversegmentation_full": [item.get("oversegmentation_full") for item in items],
        "valid_size": [item["valid_size"] for item in items],
        "orig_size": [item["orig_size"] for item in items],
        "semantic_label": [item["semantic_label"] for item in items],
        "name": [item["name"] for item in items],
        "image_path": [item["image_path"] for item in items],
    }


__all__ = ["TrainDataset", "EvalDataset", "eval_collate", "prepare_eval_image", "read_oversegmentation",
           "read_semantic", "train_collate"]
