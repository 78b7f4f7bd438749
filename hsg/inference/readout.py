"""Reading segments out as semantic segmentation, and scoring the result.

HSG learns without labels, so a trained model is scored through a *read-out* of its segments:

* ``knn`` (the original's protocol): a labelled memory of the segment features of labelled images, each
  tagged with the majority ground truth of its pixels; a test segment takes the majority label of its
  ``test.knn`` (20) most similar memory features.
* ``nn1``: the same memory, each segment labelled by its single nearest memory feature. The 20-vote
  favours the memory's most frequent class; 1-NN shows whether features retrieve the right class at all.
* ``cluster`` (label-free, as PiCIE and STEGO report): k-means of the test set's segment features into as
  many clusters as classes (each segment weighted by its pixel count), clusters matched one-to-one to the
  classes over the whole set (Hungarian matching). No label is used before scoring.
* ``oracle``: each segment labelled with its own majority ground truth: what the segments could reach
  with a perfect read-out (a diagnostic of the segmentation, not a prediction).

Outputs under ``save_dir``: ``semantic_gray/`` (knn class ids, the original's layout, plus
``semantic_color/`` and ``semantic_overlay/``), ``nn1_gray/``, ``oracle_gray/`` and ``cluster_gray/``
(cluster ids, for ``pyenv/eval.py --mode cluster``), all at the images' own size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from hsg.clustering.kmeans import l2_normalize
from hsg.config.config import Config
from hsg.errors import ConfigError, DataError
from hsg.evaluation.pairs import pair_by_list
from hsg.evaluation.report import evaluate_pairing
from hsg.files import write_image, write_json
from hsg.inference.memory import knn_vote, load_memory, majority_labels, oracle_labels, save_prototypes
from hsg.inference.segmenter import ImageSegments, Segmenter, segment_images
from hsg.vis.colormap import colorize, load_colormap, overlay
from hsg.vis.pictures import color_ids

READOUTS = ("knn", "nn1", "cluster", "oracle")
FOLDERS = {"knn": "semantic_gray", "nn1": "nn1_gray", "cluster": "cluster_gray", "oracle": "oracle_gray"}


def build_memory(cfg: Config, segmenter: Segmenter, data_dir: str, data_list: str,
                 save_dir: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The labelled memory: every segment feature of the list's images with its majority ground truth.

    Ignored pixels take part in the vote and segments labelled ignore are dropped, as the original.
    With ``save_dir``, also writes the original's outputs per image: ``semantic_prototype/<name>.npz``
    (features and labels, read by ``pyenv/inference.py --semantic_memory_dir``), ``semantic_cluster/``
    (segment ids) and ``semantic_color/`` (the segments in colour).
    """
    ignore = cfg.dataset.semantic_ignore_index
    num_labels = max(cfg.dataset.num_classes, ignore + 1)
    features, labels = [], []
    for image in segment_images(cfg, segmenter, data_dir, data_list):
        segment_labels = majority_labels(image.ids, image.label, image.features.shape[0], num_labels)
        features.append(image.features)
        labels.append(segment_labels)
        if save_dir is not None:
            save_dir = Path(save_dir)
            save_prototypes(save_dir / "semantic_prototype" / f"{image.name}.npz", image.features, segment_labels)
            cluster_map = image.ids.numpy().astype(np.uint16)
            write_image(save_dir / "semantic_cluster" / f"{image.name}.png", cluster_map)
            write_image(save_dir / "semantic_color" / f"{image.name}.png", color_ids(cluster_map))
    memory, memory_labels = torch.cat(features), torch.cat(labels)
    keep = memory_labels != ignore
    return memory[keep], memory_labels[keep]


def _full_size(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A label map at the image's own size (nearest)."""
    if labels.shape == tuple(size):
        return labels
    return cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def label_free_clusters(features: torch.Tensor, weights: torch.Tensor, k: int, seed: int, restarts: int,
                        iterations: int = 50) -> torch.Tensor:
    """Weighted spherical k-means of ``features [S, D]`` into ``k`` clusters; ``[S]`` cluster ids.

    k-means++ seeding (drawn from ``seed``), ``restarts`` runs, the one with the largest weighted cosine
    to its centroids kept: the same features always give the same clusters. Enough restarts matter: with
    few, which local optimum wins depends on the seed, and so does the read-out's mIoU. The count has no
    default here: the read-out passes ``test.cluster_restarts``, the one place it is chosen.
    """
    x = l2_normalize(features.double())
    w = weights.double()
    k = min(k, x.shape[0])
    generator = torch.Generator().manual_seed(int(seed))
    best, best_score = None, -float("inf")
    for _ in range(restarts):
        first = torch.multinomial(w / w.sum(), 1, generator=generator)
        centres = x[first]
        for _ in range(1, k):
            distance = (1 - (x @ centres.t()).max(dim=1).values).clamp_min(0) * w
            pick = torch.multinomial(distance / distance.sum(), 1, generator=generator) if distance.sum() > 0 \
                else torch.randint(x.shape[0], (1,), generator=generator)
            centres = torch.cat([centres, x[pick]])
        for _ in range(iterations):
            assign = (x @ centres.t()).argmax(dim=1)
            sums = torch.zeros_like(centres).index_add_(0, assign, x * w[:, None])
            moved = l2_normalize(sums)
            empty = sums.norm(dim=1) == 0
            moved[empty] = centres[empty]  # an emptied cluster keeps its centre
            if torch.equal(moved, centres):
                break
            centres = moved
        assign = (x @ centres.t()).argmax(dim=1)
        score = float(((x * centres[assign]).sum(dim=1) * w).sum())
        if score > best_score:
            best, best_score = assign, score
    return best


def predict(cfg: Config, segmenter: Segmenter, data_dir: str, data_list: str, save_dir: str | Path,
            readouts: Iterable[str] = ("knn",), memory: tuple[torch.Tensor, torch.Tensor] | None = None,
            device: torch.device | None = None) -> int:
    """Write the predictions of every read-out for the list's images (see the module docstring); returns
    the number of images. ``knn`` and ``nn1`` need the ``memory`` (features, labels)."""
    readouts = tuple(readouts)
    unknown = [r for r in readouts if r not in READOUTS]
    if unknown:
        raise ValueError(f"unknown read-out(s) {unknown}; choose from {READOUTS}")
    save_dir = Path(save_dir)
    device = device or torch.device("cpu")
    num_classes, ignore = cfg.dataset.num_classes, cfg.dataset.semantic_ignore_index
    if {"knn", "nn1"} & set(readouts):
        if memory is None:
            raise ValueError("the knn and nn1 read-outs need a memory")
        memory_features, memory_labels = memory[0].to(device), memory[1].to(device)
    cmap = load_colormap(cfg.dataset.color_map)
    kept: list[ImageSegments] = []
    count = 0
    for image in segment_images(cfg, segmenter, data_dir, data_list):
        count += 1
        per_segment = {}
        if "knn" in readouts:
            per_segment["knn"] = knn_vote(image.features.to(device), memory_features, memory_labels,
                                          cfg.test.knn, num_classes).cpu()
        if "nn1" in readouts:
            per_segment["nn1"] = knn_vote(image.features.to(device), memory_features, memory_labels, 1,
                                          num_classes).cpu()
        if "oracle" in readouts:
            per_segment["oracle"] = oracle_labels(image.ids, image.label, num_classes, ignore)
        for readout, labels in per_segment.items():
            pred = _full_size(labels[image.ids].numpy().astype(np.uint8), image.orig_size)
            write_image(save_dir / FOLDERS[readout] / f"{image.name}.png", pred)
            if readout == "knn":
                write_image(save_dir / "semantic_color" / f"{image.name}.png", colorize(pred, cmap))
                rgb = np.asarray(Image.open(image.image_path).convert("RGB"))
                write_image(save_dir / "semantic_overlay" / f"{image.name}.jpg", overlay(rgb, pred, cmap))
        if "cluster" in readouts:
            kept.append(image)
    if "cluster" in readouts and kept:
        clusters = label_free_clusters(torch.cat([im.features for im in kept]), torch.cat([im.sizes for im in kept]),
                                       num_classes, cfg.seed, restarts=cfg.test.cluster_restarts)
        start = 0
        for image in kept:
            ids = clusters[start:start + image.features.shape[0]][image.ids]
            start += image.features.shape[0]
            write_image(save_dir / FOLDERS["cluster"] / f"{image.name}.png",
                        _full_size(ids.numpy().astype(np.uint8), image.orig_size))
    return count


def score(cfg: Config, save_dir: str | Path, data_dir: str, data_list: str, readouts: Iterable[str]) -> dict:
    """Score the predictions of each read-out against the list's ground truth: ``{readout: report}``
    (``pyenv/eval.py``'s report; the cluster read-out Hungarian-matched over the whole set)."""
    reports = {}
    for readout in readouts:
        pairing = pair_by_list(Path(save_dir) / FOLDERS[readout], data_list, data_dir)
        reports[readout] = evaluate_pairing(pairing, cfg.dataset.num_classes,
                                            mode="cluster" if readout == "cluster" else "semantic",
                                            ignore_index=cfg.dataset.semantic_ignore_index, workers=2,
                                            class_names=cfg.dataset.class_names)
    return reports


def run_readouts(cfg: Config, segmenter: Segmenter, data_dir: str, test_list: str, save_dir: str | Path,
                 readouts: Iterable[str] = ("knn",), memory_list: str | None = None,
                 memory_dir: str | Path | None = None, device: torch.device | None = None) -> dict:
    """Memory (from ``memory_list``, or the prototype files in ``memory_dir``), predictions of the test
    list, and their scores; writes ``save_dir/readout.json`` and returns it: ``{readout: summary}`` with
    each read-out's mIoU, pixel accuracy and per-class IoU."""
    readouts = tuple(readouts)
    save_dir = Path(save_dir)
    memory = None
    if {"knn", "nn1"} & set(readouts):
        if memory_list:
            memory = build_memory(cfg, segmenter, data_dir, memory_list, save_dir / "memory")
        elif memory_dir:
            memory = load_memory(memory_dir, cfg.dataset.semantic_ignore_index)
        else:
            raise ValueError("the knn and nn1 read-outs need a memory list or a memory folder")
    test_dir = save_dir / "test"
    predict(cfg, segmenter, data_dir, test_list, test_dir, readouts, memory, device)
    reports = score(cfg, test_dir, data_dir, test_list, readouts)
    summary = {readout: {"miou": r["miou"], "pixel_acc": r["pixel_acc"], "miou_present": r["miou_present"],
                         "per_class_iou": {(row["name"] or str(row["id"])): round(row["iou"], 2)
                                           for row in r["per_class"]},
                         "images": r["num_images"]} for readout, r in reports.items()}
    write_json(save_dir / "readout.json", summary)
    for readout, report in reports.items():
        write_json(test_dir / f"eval_{readout}.json", report)
    return summary


def load_named_readout(spec: str, flag: str) -> tuple[str, str, dict]:
    """``NAME=READOUT_JSON`` (a command-line argument) -> (name, path, the readout.json it names)."""
    name, sep, path = spec.partition("=")
    if not sep or not name:
        raise ConfigError(f"{flag} expects NAME=READOUT_JSON, got '{spec}'")
    if not Path(path).is_file():
        raise DataError(path, f"no readout.json for '{name}' ({flag}); did its read-out run?")
    return name, path, json.loads(Path(path).read_text())


__all__ = ["FOLDERS", "READOUTS", "build_memory", "label_free_clusters", "load_named_readout", "predict",
           "run_readouts", "score"]
