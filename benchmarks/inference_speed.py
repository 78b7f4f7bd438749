"""Inference speed: images per second of the kNN read-out, split into its stages, batched vs one at a time.

    python benchmarks/inference_speed.py [--device cuda] [--depth 50] [--image_size 512] [--images 8]
        [--batch_sizes 1 4] [--memory 380000] [--out benchmarks/results/inference_speed.json]

Per image: the output-stride-8 embedding of a padded canvas, k-means (6x6 grid) on it, and the kNN vote of
its segments against a memory of ``--memory`` random prototypes (VOC train_aug gives about 380k). The
baseline in the same run is the original's way: one image at a time and a full argsort of the memory for
every segment instead of a top-k. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from hsg.config.config import load_config
from hsg.inference.embed import embed_images
from hsg.inference.memory import image_segments, knn_vote
from hsg.models.model import build_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def argsort_vote(queries: torch.Tensor, memory: torch.Tensor, labels: torch.Tensor, k: int, classes: int
                 ) -> torch.Tensor:
    """The original's read-out: full descending argsort of the similarities, then the top k."""
    idx = torch.argsort(queries @ memory.t(), dim=1, descending=True)[:, :k]
    return torch.nn.functional.one_hot(labels[idx], classes).sum(1).argmax(1)


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    cfg = load_config(opts=[f"network.backbone_depth={args.depth}", f"network.embedding_dim={args.dim}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    model.set_output_stride(8)
    model = model.to(device).eval()
    size = args.image_size
    images = torch.randn(args.images, 3, size, size, device=device)
    valid = torch.ones(args.images, size, size, dtype=torch.bool, device=device)
    memory = torch.nn.functional.normalize(torch.randn(args.memory, args.dim, device=device), dim=1)
    labels = torch.randint(0, 21, (args.memory,), device=device)
    rows = []
    for method, batch, vote in [("original: one image, argsort", 1, argsort_vote)] + \
            [(f"hsg: batch {b}, top-k", b, knn_vote) for b in args.batch_sizes]:
        times = {"embed": 0.0, "kmeans": 0.0, "knn": 0.0}
        for start in range(-batch, args.images, batch):  # the first batch is a warm-up
            x = images[max(start, 0):max(start, 0) + batch]
            with torch.no_grad():
                _sync(device)
                t0 = time.perf_counter()
                emb = embed_images(model, x, (size, size), (size, size))
                _sync(device)
                t1 = time.perf_counter()
                _, protos = image_segments(emb, valid[: x.shape[0]], [6, 6], 15)
                _sync(device)
                t2 = time.perf_counter()
                vote(protos, memory, labels, 20, 21)
                _sync(device)
                t3 = time.perf_counter()
            if start >= 0:
                for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                    times[key] += dt
        total = sum(times.values())
        rows.append({"method": method, "batch": batch, **{f"{k}_ms_per_image": 1000 * v / args.images
                                                          for k, v in times.items()},
                     "images_per_s": args.images / total})
    return {"device": str(device), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "depth": args.depth, "image_size": size, "images": args.images,
            "memory": args.memory, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--image_size", type=int, default=512)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--memory", type=int, default=380000)
    parser.add_argument("--out", default="benchmarks/results/inference_speed.json")
    args = parser.parse_args()
    result = run(args)
    print(f"device {result['device']}, ResNet-{args.depth}, {args.image_size}x{args.image_size}, "
          f"{args.images} images, memory of {args.memory} prototypes, {result['threads']} threads")
    print(f"{'method':<32} {'embed ms':>9} {'k-means ms':>11} {'kNN ms':>8} {'images/s':>9}")
    for r in result["rows"]:
        print(f"{r['method']:<32} {r['embed_ms_per_image']:9.1f} {r['kmeans_ms_per_image']:11.1f} "
              f"{r['knn_ms_per_image']:8.1f} {r['images_per_s']:9.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
