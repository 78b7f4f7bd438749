"""hsg in Python: a checkpoint (or a preset) to embeddings and segment hierarchies, in a few lines.

    import hsg
    model = hsg.load("runs/stage2/model-600.pth")          # the config comes from the checkpoint
    result = model.hierarchy("photo.jpg")                   # .oversegmentation .segments .fine .coarse

One object, built from a file or a name and called on images, returning plain arrays, as
``torch.hub.load(...)`` models and detectron2's ``DefaultPredictor`` are. Images may be paths, PIL images,
numpy arrays (``[H, W, 3]``, uint8, or float in [0, 1]) or tensors (``[3, H, W]``, uint8, or float in
[0, 1]), alone or in a list; every map comes back at the image's own size. Batching, device and dtype are
handled here, and the work is the programs' own: the same preparation as the evaluation loader
(:func:`hsg.data.datasets.prepare_eval_image`), the same model loading as ``pyenv/readout.py``
(:mod:`hsg.inference.load`) and the same hierarchy as ``pyenv/hierarchy.py``
(:func:`hsg.inference.hierarchy.hierarchy_of_batch`), so a notebook and a program give the same answer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
import torch.nn.functional as F

from hsg.config.config import Config
from hsg.data.datasets import eval_collate, prepare_eval_image
from hsg.data.io import read_image
from hsg.device import select_device
from hsg.errors import ConfigError, DataError
from hsg.inference.embed import embed_images
from hsg.inference.hierarchy import HierarchyMaps, hierarchy_of_batch
from hsg.inference.load import config_for, load_model
from hsg.models.model import HSGModel

Image = Union[str, os.PathLike, np.ndarray, torch.Tensor, Any]  # Any: a PIL image (PIL is imported lazily)


@dataclass
class Hierarchy:
    """The levels of one image, each an int64 label map ``[H, W]`` at the image's own size (-1: none).

    ``oversegmentation`` is None when the segments were the k-means clusters alone; ``embedding`` (on
    request) is the L2-normalised pixel embedding ``[C, H, W]`` the levels were drawn from."""

    oversegmentation: np.ndarray | None
    segments: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    embedding: np.ndarray | None = None


def to_rgb(image: Image, index: int = 0) -> np.ndarray:
    """Any supported image as an RGB ``uint8 [H, W, 3]`` array; a clear error naming the image otherwise."""
    what = f"image {index}"
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise DataError(what, f"a tensor image must be [3, H, W] (or [1, H, W]), got {list(image.shape)}")
        image = image.detach().cpu().expand(3, -1, -1).permute(1, 2, 0).numpy()
    elif not isinstance(image, np.ndarray):
        if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
            return np.asarray(image.convert("RGB"))
        raise DataError(what, f"not an image: {type(image).__name__} (give a path, a PIL image, a numpy array "
                              f"[H, W, 3] or a tensor [3, H, W])")
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise DataError(what, f"a numpy image must be [H, W, 3] (or [H, W] gray, [H, W, 4] RGBA), got {list(array.shape)}")
    array = array[:, :, :3]
    if min(array.shape[:2]) < 1:
        raise DataError(what, f"empty image of shape {list(array.shape)}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(what, f"pixel type {array.dtype}: give uint8 (0-255) or float (0-1)")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise DataError(what, f"a float image must hold values in [0, 1] (got {np.nanmin(array):.3g} to "
                              f"{np.nanmax(array):.3g}); for 0-255 values pass uint8")
    return np.ascontiguousarray((array * 255).round().astype(np.uint8))


def oversegment(rgb: np.ndarray, max_regions: int) -> np.ndarray:
    """Regions ``1..n`` of an RGB image with the default detector (colour gradients -> UCM -> the original's
    threshold rule), as ``pyenv/oversegment.py`` makes them for a folder."""
    from hsg.oversegmentation.edges import GradientEdges
    from hsg.oversegmentation.ucm import threshold_regions, ucm_from_edges

    detector = GradientEdges()
    labels, _ = threshold_regions(ucm_from_edges(detector(rgb), detector.min_region_fraction), max_regions)
    return labels


class HSG:
    """A model ready to run: the network, its config and its device. Build it with :func:`load`.

    Attributes: ``cfg`` (the :class:`hsg.config.config.Config`), ``network`` (the
    :class:`hsg.models.model.HSGModel`, in eval mode), ``device``, ``checkpoint`` (its file, or None).
    """

    def __init__(self, cfg: Config, network: HSGModel, device: torch.device, checkpoint: Path | None) -> None:
        self.cfg, self.network, self.device, self.checkpoint = cfg, network, device, checkpoint

    def __repr__(self) -> str:
        net = self.cfg.network
        return (f"HSG(ResNet-{net.backbone_depth} width {net.backbone_width}, embedding {net.embedding_dim}, "
                f"{'stage 2' if net.hierarchy else 'stage 1'}, {self.checkpoint or 'untrained'}, on {self.device})")

    # -------------------------------------------------------------------------------------------- inputs
    def _items(self, images: Sequence[Image], oversegmentation: bool | Sequence[np.ndarray | None],
               max_regions: int) -> list[dict]:
        t, net = self.cfg.test, self.cfg.network
        given = not isinstance(oversegmentation, bool)
        if given and len(oversegmentation) != len(images):
            raise ConfigError(f"oversegmentation: {len(oversegmentation)} maps for {len(images)} images")
        if given and len({m is None for m in oversegmentation}) > 1:
            raise ConfigError("oversegmentation: give a map for every image of a call, or for none")
        items = []
        for i, image in enumerate(images):
            rgb = to_rgb(image, i)
            regions = None
            if given and oversegmentation[i] is not None:
                regions = np.asarray(oversegmentation[i]).astype(np.int64)
                if regions.shape != rgb.shape[:2] or regions.min() < 0:
                    raise DataError(f"oversegmentation {i}", f"must be a map of region ids >= 0 of the image's "
                                                             f"size {rgb.shape[:2]}, got {regions.shape}")
            elif oversegmentation is True:
                regions = oversegment(rgb, max_regions)
            items.append(prepare_eval_image(rgb, regions, t.image_size, t.max_pixels, tuple(t.crop_size),
                                            net.pixel_means, net.pixel_stds))
        return items

    def _batches(self, items: list[dict]):
        size = max(1, self.cfg.test.batch_size)
        for start in range(0, len(items), size):
            part = items[start:start + size]
            for item in part:  # eval_collate keeps these as lists
                item.update(semantic_label=None, name="", image_path="")
            yield start, eval_collate(part)

    # ------------------------------------------------------------------------------------------- outputs
    def hierarchy(self, images: Image | Sequence[Image], oversegmentation: bool | Sequence[np.ndarray | None] = True,
                  with_embedding: bool = False, max_regions: int = 48) -> Hierarchy | list[Hierarchy]:
        """The segment hierarchy of one image (a :class:`Hierarchy`) or of a list (a list of them).

        ``oversegmentation``: True makes each image's regions (``max_regions`` at most) and cuts the k-means
        segments by them, as training does; False uses the k-means clusters alone; or give one region map
        per image (the same size as the image). An image's result depends on it and the model alone, not on
        the other images of the call (``test.group_statistics``)."""
        single = not isinstance(images, (list, tuple))
        items = self._items([images] if single else list(images), oversegmentation, max_regions)
        results: list[Hierarchy] = []
        for _, batch in self._batches(items):
            maps: list[HierarchyMaps] = hierarchy_of_batch(self.cfg, self.network, batch, self.device, with_embedding)
            results.extend(Hierarchy(m.oversegmentation, m.segments, m.fine, m.coarse, m.embedding) for m in maps)
        return results[0] if single else results

    @torch.no_grad()
    def embed(self, images: Image | Sequence[Image]) -> np.ndarray | list[np.ndarray]:
        """L2-normalised pixel embeddings ``[C, H, W]`` (float32) at each image's own size, as the read-outs
        compute them (sliding window, ``test.scales`` and ``test.flip``, the inference output stride). Each
        image is embedded on its own canvas, so its embedding does not depend on the other images."""
        single = not isinstance(images, (list, tuple))
        t = self.cfg.test
        out: list[np.ndarray] = []
        for item in self._items([images] if single else list(images), False, 0):
            emb = embed_images(self.network, item["image"][None].to(self.device), tuple(t.crop_size),
                               tuple(t.stride), t.scales, t.flip, amp=self.cfg.train.amp and self.device.type == "cuda")
            (h, w), size = item["valid_size"], tuple(item["orig_size"])
            one = emb[:, :, :h, :w]
            if (h, w) != size:
                one = F.interpolate(one, size=size, mode="bilinear", align_corners=False)
            out.append(F.normalize(one[0], dim=0).cpu().numpy())
        return out[0] if single else out


def load(checkpoint_or_preset: str | os.PathLike, device: str | torch.device | None = None,
         cfg_overrides: dict | Sequence[str] | None = None, preset: str | None = None) -> HSG:
    """A model from a checkpoint file or a preset's name.

    Args:
        checkpoint_or_preset: one of our checkpoints (its config is inside), a checkpoint of the original
            authors' release (read through the converter; the network's shape is read off its weights,
            the rest comes from ``preset``, default ``coco_stage2``), or the name of a preset of
            ``configs/`` (an untrained network drawn from the config's seed: a baseline).
        device: 'cpu', 'cuda', 'cuda:1' or a ``torch.device``; default the config's ``device`` (CUDA when
            available).
        cfg_overrides: ``{"test.image_size": 512}`` or ``["test.image_size=512"]``, applied last.
        preset: the config a checkpoint without one starts from.
    """
    spec = os.fspath(checkpoint_or_preset)
    opts = [f"{k}={v}" for k, v in cfg_overrides.items()] if isinstance(cfg_overrides, dict) else list(cfg_overrides or ())
    cfg, checkpoint = config_for(spec, preset, opts)
    dev = select_device(cfg.device if device is None else device)
    return HSG(cfg, load_model(cfg, checkpoint, dev), dev, checkpoint)


__all__ = ["HSG", "Hierarchy", "load", "oversegment", "to_rgb"]
