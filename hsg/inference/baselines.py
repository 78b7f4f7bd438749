"""Baselines read out with the same labelled-memory protocol as HSG, so that a trained model's mIoU has
something to be compared with in the same run:

* ``raw pixels``: k-means on colour and position (the pipeline of :mod:`hsg.inference.runner` with the
  normalised RGB values standing in for the learned embedding), prototypes of mean colour, kNN vote;
* ``region histograms``: the over-segmentation regions themselves, each described by its colour
  histogram, labelled by the same kNN vote from the regions of the labelled memory images.

Neither learns anything: a model that does not beat them has not learned more than colour.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from tqdm import tqdm

from hsg.config.config import Config
from hsg.data.datasets import EvalDataset
from hsg.inference.memory import knn_vote, majority_labels, oracle_labels


class RawPixels(nn.Module):
    """A stand-in "model" whose embedding of an image is its normalised RGB values (output stride 1).

    Plugged into :func:`hsg.inference.runner.build_prototypes` and ``predict``, it gives k-means on colour
    and position with colour prototypes: the raw-pixel baseline.
    """

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def set_output_stride(self, output_stride: int) -> None:  # the runner's interface; nothing to switch
        return None


def colour_histogram(rgb: np.ndarray, labels: np.ndarray, num_regions: int, bins: int = 8) -> np.ndarray:
    """``[num_regions, bins**3]`` L2-normalised joint RGB histograms of the pixels of each region id."""
    q = (rgb.astype(np.int64) * bins) // 256
    colour = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    valid = labels >= 0
    key = labels[valid] * bins ** 3 + colour[valid]
    hist = np.bincount(key, minlength=num_regions * bins ** 3).reshape(num_regions, bins ** 3).astype(np.float32)
    return hist / np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-12)


def _regions_of(item: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (RGB uint8), dense region ids (0..R-1) and semantic labels at the resized resolution."""
    h, w = item["valid_size"]
    rgb = np.asarray(Image.open(item["image_path"]).convert("RGB"))
    if rgb.shape[:2] != (h, w):
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    region = item["oversegmentation"][:h, :w].numpy()
    _, dense = np.unique(region, return_inverse=True)
    return rgb, dense.reshape(h, w), item["semantic_label"].numpy()


def region_histogram_readout(cfg: Config, data_dir: str, memory_list: str, test_list: str, save_dir: str | Path,
                             readout: str = "knn") -> int:
    """Label the over-segmentation regions of the test images by a kNN vote of colour histograms.

    Writes ``save_dir/semantic_gray/<name>.png`` (class ids at the original resolution); returns the number
    of test images. Both lists need the over-segmentation column. ``readout='oracle'`` labels each region
    with its own majority ground truth instead: the upper bound of the over-segmentation.
    """
    save_dir = Path(save_dir)
    ignore = cfg.dataset.semantic_ignore_index
    num_labels = max(cfg.dataset.num_classes, ignore + 1)
    memory, memory_labels = [], []
    memory_items = EvalDataset(cfg, data_dir, memory_list, with_oversegmentation=True) if readout == "knn" else []
    for item in tqdm(memory_items, desc="histogram memory", unit="image", dynamic_ncols=True):
        rgb, regions, label = _regions_of(item)
        h, w = regions.shape
        gt = cv2.resize(label.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST) if label.shape != (h, w) \
            else label
        count = int(regions.max()) + 1
        memory.append(colour_histogram(rgb, regions, count))
        memory_labels.append(majority_labels(torch.from_numpy(regions), torch.from_numpy(gt.astype(np.int64)),
                                             count, num_labels).numpy())
    if readout == "knn":
        protos = torch.from_numpy(np.concatenate(memory))
        labels = torch.from_numpy(np.concatenate(memory_labels))
        keep = labels != ignore
        protos, labels = protos[keep], labels[keep]
    test = EvalDataset(cfg, data_dir, test_list, with_oversegmentation=True)
    (save_dir / "semantic_gray").mkdir(parents=True, exist_ok=True)
    for item in tqdm(test, desc="histogram read-out", unit="image", dynamic_ncols=True):
        rgb, regions, label = _regions_of(item)
        if readout == "oracle":
            h, w = regions.shape
            gt = cv2.resize(label.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
            region_labels = oracle_labels(torch.from_numpy(regions), torch.from_numpy(gt.astype(np.int64)),
                                          cfg.dataset.num_classes, ignore).numpy()
        else:
            hist = torch.from_numpy(colour_histogram(rgb, regions, int(regions.max()) + 1))
            region_labels = knn_vote(hist, protos, labels, cfg.test.knn, cfg.dataset.num_classes).numpy()
        pred = region_labels[regions].astype(np.uint8)
        oh, ow = item["orig_size"]
        if pred.shape != (oh, ow):
            pred = cv2.resize(pred, (ow, oh), interpolation=cv2.INTER_NEAREST)
        Image.fromarray(pred, mode="L").save(save_dir / "semantic_gray" / f"{Path(item['name']).name}.png")
    return len(test)
