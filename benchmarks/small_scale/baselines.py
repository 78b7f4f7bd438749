"""Baselines read out exactly as HSG is (the same read-outs of ``hsg/inference/readout.py``), so that a
trained model's numbers have something to be compared with in the same run:

* ``raw_pixels``: k-means on colour and position (the network's segmenter with the normalised RGB values
  standing in for the learned embedding), each segment described by its mean colour;
* ``region_histograms``: the over-segmentation regions themselves, each described by its colour
  histogram (8 bins per channel).

Neither learns anything: a model that does not beat them has not learned more than colour. (The third
baseline, the untrained network, is ``pyenv/readout.py --checkpoint untrained``.)

    python benchmarks/small_scale/baselines.py --kind raw_pixels --cfg_path CFG --data_dir DATA \
        --memory_list TRAIN --test_list VAL --save_dir OUT/raw_pixels --readouts knn cluster

Writes ``SAVE_DIR/readout.json`` as ``pyenv/readout.py`` does.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from hsg.cli.common import parser_texts
from hsg.config.config import load_config
from hsg.errors import user_errors
from hsg.inference.readout import READOUTS


class RawPixels(nn.Module):
    """A stand-in model whose embedding of an image is its normalised RGB values (output stride 1)."""

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return images


def colour_histogram(rgb: np.ndarray, labels: np.ndarray, num_regions: int, bins: int = 8) -> np.ndarray:
    """``[num_regions, bins**3]`` L2-normalised joint RGB histograms of the pixels of each region id."""
    q = (rgb.astype(np.int64) * bins) // 256
    colour = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    valid = labels >= 0
    key = labels[valid] * bins ** 3 + colour[valid]
    hist = np.bincount(key, minlength=num_regions * bins ** 3).reshape(num_regions, bins ** 3).astype(np.float32)
    return hist / np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-12)


class RegionHistograms:
    """Segments = the over-segmentation's regions; features = their colour histograms."""

    needs_oversegmentation = True

    def __call__(self, batch: dict[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = []
        for i, (h, w) in enumerate(batch["valid_size"]):
            rgb = np.asarray(Image.open(batch["image_path"][i]).convert("RGB"))
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            _, dense = np.unique(batch["oversegmentation"][i, :h, :w].numpy(), return_inverse=True)
            dense = dense.reshape(h, w)
            hist = colour_histogram(rgb, dense, int(dense.max()) + 1)
            out.append((torch.from_numpy(dense.astype(np.int64)), torch.from_numpy(hist)))
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--kind", required=True, choices=("raw_pixels", "region_histograms"), help="which baseline")
    parser.add_argument("--cfg_path", default=None, help="the config of the run it is compared with")
    parser.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--data_dir", required=True, help="root of the list files' paths")
    parser.add_argument("--memory_list", default=None, help="labelled images of the memory (knn and nn1)")
    parser.add_argument("--test_list", required=True, help="images to score (needs column 3 for region_histograms)")
    parser.add_argument("--save_dir", required=True, help="output folder")
    parser.add_argument("--readouts", nargs="+", default=["knn", "cluster"], choices=READOUTS,
                        help="read-outs to compute and score (linear: a linear probe on the baseline's pixel "
                             "features: colour and position, or the region's histogram)")
    parser.add_argument("--crf", action="store_true", help="also score every read-out after a dense CRF")
    args = parser.parse_args(argv)
    with user_errors("baselines"):
        from hsg.device import select_device
        from hsg.inference.readout import run_readouts
        from hsg.inference.segmenter import NetworkSegmenter

        cfg = load_config(args.cfg_path, args.opts)
        device = select_device(cfg.device)
        segmenter = NetworkSegmenter(cfg, RawPixels().to(device), device) if args.kind == "raw_pixels" \
            else RegionHistograms()
        summary = run_readouts(cfg, segmenter, args.data_dir, args.test_list, args.save_dir, args.readouts,
                               memory_list=args.memory_list, device=device, crf=args.crf)
        print(f"[baselines] {args.kind}: " + ", ".join(f"{r} {s['miou']:.2f}" for r, s in summary.items()) +
              f" mIoU -> {args.save_dir}/readout.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
