"""Turn a checkpoint into prototypes, semantic predictions and hierarchy pictures, image batch by batch.

The loops behind ``pyenv/prototype.py``, ``pyenv/inference.py`` and ``pyenv/hierarchy.py``. Images are
embedded in batches (``test.batch_size``) on the GPU when there is one; k-means runs on all images of
a batch at once. Outputs are written per image, atomically, into flat folders named by the image's base
name (as the original, so that predictions pair with VOC/Cityscapes ground-truth folders by name).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from hsg.config.config import Config
from hsg.data.datasets import EvalDataset
from hsg.data.loader import build_eval_loader
from hsg.engine.checkpoint import latest_checkpoint, load_model_weights
from hsg.engine.distributed import select_device
from hsg.errors import CheckpointError, DataError
from hsg.files import atomic_write
from hsg.inference.embed import embed_images
from hsg.inference.hierarchy import batch_hierarchy
from hsg.inference.memory import (image_segments, knn_vote, load_memory, majority_labels, oracle_labels,
                                  save_prototypes)
from hsg.models.model import HSGModel, build_model
from hsg.vis.colormap import colorize, load_colormap, overlay
from hsg.vis.figures import hierarchy_figure
from hsg.vis.pictures import color_ids


def resolve_checkpoint(snapshot_dir: str | None, checkpoint: str | None) -> Path | None:
    """``--checkpoint FILE``, the newest checkpoint of ``--snapshot_dir``, or None for ``untrained`` (the
    randomly initialised network, drawn from ``cfg.seed``: the baseline a trained model must beat)."""
    if checkpoint == "untrained":
        return None
    if checkpoint:
        return Path(checkpoint)
    if not snapshot_dir:
        raise CheckpointError("give --checkpoint FILE or --snapshot_dir DIR (whose newest model-*.pth is used)")
    found = latest_checkpoint(snapshot_dir)
    if found is None:
        raise CheckpointError(f"no checkpoint (model-*.pth) in {snapshot_dir}")
    return found


def load_model(cfg: Config, checkpoint: Path | None, device: torch.device) -> HSGModel:
    """The model of ``cfg`` with the checkpoint's weights (None: untrained, for baselines), in eval mode at
    the test output stride."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if checkpoint is not None:
        load_model_weights(model, checkpoint)
    model.set_output_stride(cfg.network.test_output_stride)
    return model.to(device).eval()


def prepare_model(cfg: Config, snapshot_dir: str | None, checkpoint: str | None
                  ) -> tuple[HSGModel, torch.device, Path | None]:
    """What every inference script starts with: the device, the checkpoint and the model ready to run."""
    device = select_device(cfg.device)
    path = resolve_checkpoint(snapshot_dir, checkpoint)
    return load_model(cfg, path, device), device, path


def _test_iterations(cfg: Config) -> int:
    return cfg.test.kmeans_iterations or cfg.network.kmeans_iterations


def _valid_mask(valid_sizes: list[tuple[int, int]], canvas: tuple[int, int], device: torch.device) -> torch.Tensor:
    mask = torch.zeros((len(valid_sizes),) + canvas, dtype=torch.bool, device=device)
    for i, (h, w) in enumerate(valid_sizes):
        mask[i, :h, :w] = True
    return mask


def _segments_of_batch(cfg: Config, model: HSGModel, batch: dict, device: torch.device):
    images = batch["image"].to(device)
    embedding = embed_images(model, images, tuple(cfg.test.crop_size), tuple(cfg.test.stride),
                             cfg.test.scales, cfg.test.flip, amp=cfg.train.amp and device.type == "cuda")
    valid = _valid_mask(batch["valid_size"], tuple(images.shape[-2:]), device)
    ids, protos = image_segments(embedding, valid, cfg.test.kmeans_num_clusters, _test_iterations(cfg))
    return ids, protos


def _save_png(array: np.ndarray | Image.Image, path: Path) -> None:
    image = array if isinstance(array, Image.Image) else Image.fromarray(array)
    with atomic_write(path) as f:
        image.save(f, format="PNG" if path.suffix == ".png" else "JPEG")


def _output_names(dataset: EvalDataset) -> list[str]:
    """Flat output names (base names); two images with the same base name are an error, not an overwrite."""
    seen: dict[str, str] = {}
    names = []
    for sample in dataset.samples:
        base = Path(sample.name).name
        if base in seen:
            raise DataError(sample.image, f"two images share the output name '{base}': {seen[base]} and {sample.image}; "
                             f"outputs are written to flat folders, so rename one of them", sample.where)
        seen[base] = sample.image
        names.append(base)
    return names


def _resized_label(label: torch.Tensor, valid_size: tuple[int, int]) -> torch.Tensor:
    if tuple(label.shape) == tuple(valid_size):
        return label
    out = cv2.resize(label.numpy().astype(np.int32), (valid_size[1], valid_size[0]), interpolation=cv2.INTER_NEAREST)
    return torch.from_numpy(out.astype(np.int64))


def build_prototypes(cfg: Config, model: HSGModel, data_dir: str, data_list: str, save_dir: str | Path,
                     device: torch.device) -> int:
    """The labelled memory: k-means prototypes of every image, tagged with their majority GT class.

    Writes ``semantic_prototype/<name>.npz`` (prototypes and labels), ``semantic_cluster/<name>.png``
    (cluster ids) and ``semantic_color/<name>.png``; returns the number of prototypes.
    """
    save_dir = Path(save_dir)
    dataset = EvalDataset(cfg, data_dir, data_list)
    names = _output_names(dataset)
    loader = build_eval_loader(cfg, dataset)
    ignore = cfg.dataset.semantic_ignore_index
    num_labels = max(cfg.dataset.num_classes, ignore + 1)
    total, index = 0, 0
    for batch in tqdm(loader, desc="prototypes", unit="batch", dynamic_ncols=True):
        ids, protos = _segments_of_batch(cfg, model, batch, device)
        for i, (h, w) in enumerate(batch["valid_size"]):
            name = names[index]
            index += 1
            seg = ids[i, :h, :w]
            used = torch.unique(seg)
            used = used[used >= 0]
            local = torch.searchsorted(used, seg.clamp_min(0))  # dense 0..K-1 within the image
            gt = _resized_label(batch["semantic_label"][i], (h, w)).to(device)
            labels = majority_labels(local, gt, used.numel(), num_labels)
            save_prototypes(save_dir / "semantic_prototype" / f"{name}.npz", protos[used], labels)
            cluster_map = local.cpu().numpy().astype(np.uint16)
            _save_png(cluster_map, save_dir / "semantic_cluster" / f"{name}.png")
            _save_png(color_ids(cluster_map), save_dir / "semantic_color" / f"{name}.png")
            total += used.numel()
    return total


def predict(cfg: Config, model: HSGModel, data_dir: str, data_list: str, memory_dir: str | Path | None,
            save_dir: str | Path, device: torch.device, readout: str = "knn") -> int:
    """Semantic segmentation by kNN retrieval from the memory; writes ``semantic_gray/``,
    ``semantic_color/`` and ``semantic_overlay/``. Returns the number of images.

    ``readout='oracle'`` labels every test segment with its own majority ground-truth class instead (no
    memory): the upper bound of the segments, which tells a segmentation that groups pixels well but
    cannot name them from one that does neither."""
    save_dir = Path(save_dir)
    if readout == "knn":
        memory, memory_labels = load_memory(memory_dir, cfg.dataset.semantic_ignore_index)
        memory, memory_labels = memory.to(device), memory_labels.to(device)
        if int(memory_labels.max()) >= cfg.dataset.num_classes:
            raise DataError(memory_dir, f"the memory holds label {int(memory_labels.max())}, outside "
                             f"dataset.num_classes={cfg.dataset.num_classes}")
    elif readout != "oracle":
        raise ValueError(f"unknown read-out '{readout}' (knn or oracle)")
    dataset = EvalDataset(cfg, data_dir, data_list)
    names = _output_names(dataset)
    loader = build_eval_loader(cfg, dataset)
    cmap = load_colormap(cfg.dataset.color_map)
    index = 0
    for batch in tqdm(loader, desc="inference", unit="batch", dynamic_ncols=True):
        ids, protos = _segments_of_batch(cfg, model, batch, device)
        if readout == "knn":
            segment_labels = knn_vote(protos, memory, memory_labels, cfg.test.knn, cfg.dataset.num_classes)
        for i, ((h, w), (oh, ow)) in enumerate(zip(batch["valid_size"], batch["orig_size"])):
            name = names[index]
            index += 1
            seg = ids[i, :h, :w]
            if readout == "oracle":
                _, local = torch.unique(seg, return_inverse=True)
                gt = _resized_label(batch["semantic_label"][i], (h, w)).to(device)
                pred = oracle_labels(local, gt, cfg.dataset.num_classes,
                                     cfg.dataset.semantic_ignore_index)[local].cpu().numpy().astype(np.uint8)
            else:
                pred = segment_labels[seg.clamp_min(0)].cpu().numpy().astype(np.uint8)
            if (h, w) != (oh, ow):
                pred = cv2.resize(pred, (ow, oh), interpolation=cv2.INTER_NEAREST)
            _save_png(Image.fromarray(pred, mode="L"), save_dir / "semantic_gray" / f"{name}.png")
            _save_png(colorize(pred, cmap), save_dir / "semantic_color" / f"{name}.png")
            rgb = np.asarray(Image.open(batch["image_path"][i]).convert("RGB"))
            _save_png(overlay(rgb, pred, cmap), save_dir / "semantic_overlay" / f"{name}.jpg")
    return index


def hierarchy_pictures(cfg: Config, model: HSGModel, data_dir: str, data_list: str, save_dir: str | Path,
                       device: torch.device, with_oversegmentation: bool) -> int:
    """For every image: label PNGs of each level (``hierarchy/<level>/<name>.png``) and one composite
    figure (``hierarchy/figure/<name>.png``). Images are grouped in batches of ``test.batch_size`` (at
    least 2: the transformers normalise with batch statistics, see :mod:`hsg.inference.hierarchy`).
    Returns the number of images."""
    save_dir = Path(save_dir)
    dataset = EvalDataset(cfg, data_dir, data_list, with_oversegmentation=with_oversegmentation)
    names = _output_names(dataset)
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
            for level, labels in levels.items():
                if labels is not None:
                    out = np.where(labels >= 0, labels + 1, 0).astype(np.uint16)  # 0 = none, ids from 1
                    _save_png(out, save_dir / "hierarchy" / level / f"{name}.png")
            _save_png(hierarchy_figure(rgb, levels, title=name), save_dir / "hierarchy" / "figure" / f"{name}.png")
    return index
