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
* ``overcluster`` (label-free, IIC's overclustering): the same k-means into ``test.overcluster_k``
  (default 3 x classes) clusters, each mapped to the class most of its pixels have over the whole set.
* ``linear`` (the field's linear probe, as STEGO and its successors report it): a linear 1x1 classifier on
  the frozen, upsampled, L2-normalised pixel embeddings, trained with cross-entropy on pixels sampled from
  the memory images' ground truth (``test.linear_*`` keys: pixels per image, epochs, batch, learning rate,
  weight decay; Adam at a constant rate from a zero start, the order drawn from ``seed``, so the same
  config gives the same probe), applied to every pixel of the test images.
* ``oracle``: each segment labelled with its own majority ground truth: what the segments could reach
  with a perfect read-out (a diagnostic of the segmentation, not a prediction).

``crf``: every read-out is also scored after a dense CRF on its predictions (:mod:`hsg.evaluation.crf`,
the optional pydensecrf2), reported as ``<read-out>_crf``.

Outputs under ``save_dir``: ``semantic_gray/`` (knn class ids, the original's layout, plus
``semantic_color/`` and ``semantic_overlay/``), ``nn1_gray/``, ``oracle_gray/``, ``linear_gray/``,
``cluster_gray/`` and ``overcluster_gray/`` (cluster ids, for ``pyenv/eval.py --mode cluster``; 16-bit
PNGs when there are more than 256 clusters), all at the images' own size. Each read-out's scores are
also written as one results file named as the field names the protocol (:data:`RESULT_NAMES`:
``unsupervised.json``, ``linear.json``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import torch

from hsg.clustering.kmeans import l2_normalize
from hsg.config.config import Config
from hsg.data.io import read_image
from hsg.errors import ConfigError, DataError
from hsg.evaluation.pairs import Pair, Refine, pair_by_list
from hsg.evaluation.report import evaluate_pairing
from hsg.files import write_image, write_json
from hsg.inference.memory import knn_vote, load_memory, majority_labels, oracle_labels, save_prototypes
from hsg.inference.segmenter import ImageSegments, Segmenter, segment_images
from hsg.vis.colormap import colorize, load_colormap, overlay
from hsg.vis.pictures import color_ids

READOUTS = ("knn", "nn1", "cluster", "overcluster", "linear", "oracle")
FOLDERS = {"knn": "semantic_gray", "nn1": "nn1_gray", "cluster": "cluster_gray", "overcluster": "overcluster_gray",
           "linear": "linear_gray", "oracle": "oracle_gray"}
# How each read-out is scored: class ids, or free cluster ids matched one-to-one / mapped by majority.
SCORING = {"knn": "semantic", "nn1": "semantic", "cluster": "cluster", "overcluster": "overcluster",
           "linear": "semantic", "oracle": "semantic"}
# The field's names of the protocols (IIC, PiCIE, STEGO: "unsupervised" and "linear" probe), for the one
# results file per read-out; "_crf" is appended when the predictions went through the dense CRF.
RESULT_NAMES = {"knn": "knn_vote", "nn1": "nearest_neighbour", "cluster": "unsupervised",
                "overcluster": "unsupervised_overcluster", "linear": "linear", "oracle": "oracle"}
NEEDS_MEMORY = ("knn", "nn1", "linear")


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
    readouts = tuple(r for r in readouts if r != "linear")  # the probe has its own pass: linear_readout
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
                rgb = read_image(image.image_path)  # .mat tiles too
                write_image(save_dir / "semantic_overlay" / f"{image.name}.jpg", overlay(rgb, pred, cmap))
        if {"cluster", "overcluster"} & set(readouts):
            kept.append(image)
    for readout in ("cluster", "overcluster"):
        if readout not in readouts or not kept:
            continue
        k = num_classes if readout == "cluster" else overcluster_k(cfg)
        clusters = label_free_clusters(torch.cat([im.features for im in kept]), torch.cat([im.sizes for im in kept]),
                                       k, cfg.seed, restarts=cfg.test.cluster_restarts)
        dtype = np.uint8 if k <= 256 else np.uint16
        start = 0
        for image in kept:
            ids = clusters[start:start + image.features.shape[0]][image.ids]
            start += image.features.shape[0]
            write_image(save_dir / FOLDERS[readout] / f"{image.name}.png",
                        _full_size(ids.numpy().astype(dtype), image.orig_size))
    return count


def overcluster_k(cfg: Config) -> int:
    """Clusters of the overclustering read-out: ``test.overcluster_k``, or three per class when 0."""
    return cfg.test.overcluster_k or 3 * cfg.dataset.num_classes


# ------------------------------------------------------------------------------------------ linear probe
def _pixel_embedding(cfg: Config, segmenter: Segmenter, batch: dict) -> list[torch.Tensor]:
    """Per image of an evaluation batch, the frozen pixel embedding ``[D, h, w]`` at the resized image
    size (``valid_size``), L2-normalised per pixel, on the CPU.

    A segmenter may provide ``embed_pixels(batch) -> [N, D, H, W]`` on the canvas; the network's segmenter
    (it has a ``model``) is embedded as its segments are (sliding windows, scales, flip: the ``test.*``
    keys); any other segmenter (colour histograms, ...) gives each pixel its segment's feature."""
    if hasattr(segmenter, "embed_pixels"):
        canvas = segmenter.embed_pixels(batch)
    elif hasattr(segmenter, "model"):
        from hsg.inference.embed import embed_images

        t = cfg.test
        device = getattr(segmenter, "device", torch.device("cpu"))
        canvas = embed_images(segmenter.model, batch["image"].to(device), tuple(t.crop_size), tuple(t.stride),
                              t.scales, t.flip, amp=cfg.train.amp and device.type == "cuda")
    else:
        return [torch.nn.functional.normalize(features[ids].permute(2, 0, 1).float(), dim=0)
                for ids, features in segmenter(batch)]
    return [torch.nn.functional.normalize(canvas[i, :, :h, :w].float(), dim=0).cpu()
            for i, (h, w) in enumerate(batch["valid_size"])]


def pixel_embeddings(cfg: Config, segmenter: Segmenter, data_dir: str, data_list: str):
    """Every image of a list as ``(name, embedding [D, h, w], label [h, w], orig_size)`` in list order; the
    label is the ground truth resized (nearest) to the embedding, all ignore without a label column."""
    from hsg.data.datasets import EvalDataset
    from hsg.data.loader import build_eval_loader
    from hsg.inference.segmenter import output_names, resize_label

    dataset = EvalDataset(cfg, data_dir, data_list, with_oversegmentation=segmenter.needs_oversegmentation)
    names = output_names(dataset)
    index = 0
    with torch.no_grad():
        for batch in build_eval_loader(cfg, dataset):
            for i, embedding in enumerate(_pixel_embedding(cfg, segmenter, batch)):
                label = resize_label(batch["semantic_label"][i], tuple(embedding.shape[-2:]))
                yield names[index], embedding, label, tuple(batch["orig_size"][i])
                index += 1


def sample_pixels(embedding: torch.Tensor, label: torch.Tensor, num_classes: int, count: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``count`` labelled pixels (ground truth in ``[0, num_classes)``) of one image, drawn without
    replacement: ``(features [n, D], labels [n])``. Bounds the probe's memory to pixels x D per image."""
    flat = label.reshape(-1)
    labelled = torch.nonzero((flat >= 0) & (flat < num_classes)).squeeze(1)
    if labelled.numel() > count:
        labelled = labelled[torch.randperm(labelled.numel(), generator=generator)[:count]]
    features = embedding.reshape(embedding.shape[0], -1)[:, labelled].t().contiguous()
    return features, flat[labelled]


def train_linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int, lr: float,
                       batch_size: int, weight_decay: float, seed: int) -> torch.nn.Linear:
    """A linear classifier ``D -> num_classes`` trained with cross-entropy: Adam at a constant rate from
    zero weights (the loss is convex, so no random start is needed), mini-batches in an order drawn from
    ``seed``. On the CPU the same inputs give the same weights."""
    if features.shape[0] == 0:
        raise ValueError("the linear probe has no labelled pixels to train on (every memory pixel is ignored)")
    probe = torch.nn.Linear(features.shape[1], num_classes).double()
    torch.nn.init.zeros_(probe.weight)
    torch.nn.init.zeros_(probe.bias)
    optimiser = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(seed))
    x, y = features.double(), labels.long()
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            for start in range(0, x.shape[0], batch_size):
                pick = order[start:start + batch_size]
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(probe(x[pick]), y[pick])
                loss.backward()
                optimiser.step()
    return probe.float().eval()


def linear_readout(cfg: Config, segmenter: Segmenter, data_dir: str, memory_list: str, test_list: str,
                   save_dir: str | Path) -> int:
    """Train the linear probe on the memory images' pixels and write its predictions of the test images
    (``linear_gray/``); returns the number of test images."""
    t, num_classes = cfg.test, cfg.dataset.num_classes
    generator = torch.Generator().manual_seed(int(cfg.seed))
    features, labels = [], []
    for _, embedding, label, _ in pixel_embeddings(cfg, segmenter, data_dir, memory_list):
        x, y = sample_pixels(embedding, label, num_classes, t.linear_pixels_per_image, generator)
        features.append(x)
        labels.append(y)
    try:
        probe = train_linear_probe(torch.cat(features), torch.cat(labels), num_classes, t.linear_epochs,
                                   t.linear_lr, t.linear_batch_size, t.linear_weight_decay, cfg.seed)
    except ValueError as e:
        raise DataError(memory_list, str(e)) from None
    count = 0
    with torch.no_grad():
        for name, embedding, _, orig_size in pixel_embeddings(cfg, segmenter, data_dir, test_list):
            d, h, w = embedding.shape
            pred = probe(embedding.reshape(d, -1).t()).argmax(dim=1).reshape(h, w)
            write_image(Path(save_dir) / FOLDERS["linear"] / f"{name}.png",
                        _full_size(pred.numpy().astype(np.uint8), orig_size))
            count += 1
    return count


def crf_refine(num_classes: int | None, iterations: int = 10) -> Refine:
    """A ``refine(pair, prediction)`` for the scorer: the dense CRF on the pair's image (any image the
    project reads, ``.mat`` tiles included). ``num_classes`` None: the labels are free cluster ids."""
    from hsg.data.io import read_image
    from hsg.errors import EvalError
    from hsg.evaluation.crf import INSTALL_HINT, crf_available, refine_labels

    if not crf_available():
        raise EvalError(INSTALL_HINT)

    def refine(pair: Pair, pred: np.ndarray) -> np.ndarray:
        image = read_image(pair.image)
        if image.shape[:2] != pred.shape:
            raise EvalError(f"{pair.image}: image size {image.shape[1]}x{image.shape[0]} differs from prediction "
                            f"{pair.pred} ({pred.shape[1]}x{pred.shape[0]})")
        return refine_labels(image, pred, num_labels=num_classes, iterations=iterations)

    return refine


def score(cfg: Config, save_dir: str | Path, data_dir: str, data_list: str, readouts: Iterable[str],
          crf: bool = False) -> dict:
    """Score the predictions of each read-out against the list's ground truth: ``{readout: report}``
    (``pyenv/eval.py``'s report; ``cluster`` Hungarian-matched and ``overcluster`` majority-mapped over
    the whole set). With ``crf`` each is scored a second time after the dense CRF, as ``<readout>_crf``."""
    reports = {}
    num_classes = cfg.dataset.num_classes
    for readout in readouts:
        pairing = pair_by_list(Path(save_dir) / FOLDERS[readout], data_list, data_dir)
        mode = SCORING[readout]
        refines = {readout: None}
        if crf:
            refines[f"{readout}_crf"] = crf_refine(num_classes if mode == "semantic" else None)
        for name, refine in refines.items():
            reports[name] = evaluate_pairing(pairing, num_classes, mode=mode,
                                             ignore_index=cfg.dataset.semantic_ignore_index, workers=2,
                                             class_names=cfg.dataset.class_names, refine=refine,
                                             label_map=cfg.dataset.label_map)
    return reports


def result_name(name: str) -> str:
    """The field's name of a scored read-out (``cluster`` -> ``unsupervised``, ``linear_crf`` ->
    ``linear_crf``, ...): the stem of its results file."""
    base, crf = (name[:-4], "_crf") if name.endswith("_crf") else (name, "")
    return RESULT_NAMES[base] + crf


def run_readouts(cfg: Config, segmenter: Segmenter, data_dir: str, test_list: str, save_dir: str | Path,
                 readouts: Iterable[str] = ("knn",), memory_list: str | None = None,
                 memory_dir: str | Path | None = None, device: torch.device | None = None,
                 crf: bool = False) -> dict:
    """Memory (from ``memory_list``, or the prototype files in ``memory_dir``), predictions of the test
    list, and their scores; writes ``save_dir/readout.json`` and returns it: ``{readout: summary}`` with
    each read-out's mIoU, pixel accuracy and per-class IoU (and ``<readout>_crf`` with ``crf``). Each
    scored read-out also gets its own results file, ``save_dir/<field name>.json`` (:func:`result_name`)."""
    readouts = tuple(readouts)
    save_dir = Path(save_dir)
    if "linear" in readouts and not memory_list:
        raise ValueError("the linear read-out needs a memory list (its labelled training pixels)")
    memory = None
    if {"knn", "nn1"} & set(readouts):
        if memory_list:
            memory = build_memory(cfg, segmenter, data_dir, memory_list, save_dir / "memory")
        elif memory_dir:
            memory = load_memory(memory_dir, cfg.dataset.semantic_ignore_index)
        else:
            raise ValueError("the knn and nn1 read-outs need a memory list or a memory folder")
    test_dir = save_dir / "test"
    if set(readouts) - {"linear"}:
        predict(cfg, segmenter, data_dir, test_list, test_dir, readouts, memory, device)
    if "linear" in readouts:
        linear_readout(cfg, segmenter, data_dir, memory_list, test_list, test_dir)
    return write_scores(cfg, save_dir, data_dir, test_list, readouts, memory_list, crf)


def write_scores(cfg: Config, save_dir: str | Path, data_dir: str, test_list: str, readouts: Iterable[str],
                 memory_list: str | None = None, crf: bool = False) -> dict:
    """Score the predictions ``save_dir/test`` holds and write ``readout.json`` and one results file per
    read-out. Apart from :func:`run_readouts` so that a folder already scored gets its CRF rows from the
    saved predictions, without embedding the images again (the CRF is minutes; the embedding can be hours)."""
    save_dir = Path(save_dir)
    test_dir = save_dir / "test"
    readouts = tuple(readouts)
    for readout in readouts:
        if not (test_dir / FOLDERS[readout]).is_dir():
            raise DataError(test_dir / FOLDERS[readout], f"no predictions of the {readout} read-out to score")
    reports = score(cfg, test_dir, data_dir, test_list, readouts, crf)
    summary = {readout: {"miou": r["miou"], "pixel_acc": r["pixel_acc"], "miou_present": r["miou_present"],
                         "per_class_iou": {(row["name"] or str(row["id"])): round(row["iou"], 2)
                                           for row in r["per_class"]},
                         "images": r["num_images"]} for readout, r in reports.items()}
    write_json(save_dir / "readout.json", summary)
    for readout, report in reports.items():
        write_json(test_dir / f"eval_{readout}.json", report)
        write_json(save_dir / f"{result_name(readout)}.json",
                   {"readout": readout, "protocol": result_name(readout), "scoring": report["mode"],
                    "crf": readout.endswith("_crf"), **summary[readout],
                    "num_classes": report["num_classes"], "test_list": str(test_list),
                    "memory_list": None if memory_list is None else str(memory_list)})
    return summary


def load_named_readout(spec: str, flag: str) -> tuple[str, str, dict]:
    """``NAME=READOUT_JSON`` (a command-line argument) -> (name, path, the readout.json it names)."""
    name, sep, path = spec.partition("=")
    if not sep or not name:
        raise ConfigError(f"{flag} expects NAME=READOUT_JSON, got '{spec}'")
    if not Path(path).is_file():
        raise DataError(path, f"no readout.json for '{name}' ({flag}); did its read-out run?")
    return name, path, json.loads(Path(path).read_text())


__all__ = ["FOLDERS", "NEEDS_MEMORY", "READOUTS", "RESULT_NAMES", "SCORING", "build_memory", "crf_refine",
           "label_free_clusters", "linear_readout", "load_named_readout", "overcluster_k", "pixel_embeddings",
           "predict", "result_name", "run_readouts", "sample_pixels", "score", "train_linear_probe", "write_scores"]
