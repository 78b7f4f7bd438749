"""Inference speed: images per second of the kNN read-out, split into its stages, batched vs one at a time;
and time and peak memory against image size.

    python benchmarks/inference_speed.py [--device cuda] [--depth 50] [--image_size 512] [--images 8]
        [--batch_sizes 1 4] [--memory 380000] [--out benchmarks/results/inference_speed.json]
    python benchmarks/inference_speed.py --sizes 512 1024 2048 0 [--depth 50] [--photo 6000x4000]

Per image: the output-stride-8 embedding of a padded canvas, k-means (6x6 grid) on it, and the kNN vote of
its segments against a memory of ``--memory`` random prototypes (VOC train_aug gives about 380k). The
baseline in the same run is the original's way: one image at a time and a full argsort of the memory for
every segment instead of a top-k. Prints a table and writes JSON.

``--sizes``: one photo of ``--photo`` pixels (a smooth random picture written as JPEG) cut into segments
by the inference path (``EvalDataset`` -> sliding-window embedding -> k-means), once per
``test.image_size`` in the list (0 = the photo's own size), each in a fresh process so that its peak
resident memory is its own; ``--uncapped`` adds the same runs with ``test.max_pixels`` lifted, the
baseline of the cap.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hsg.cli.common import parser_texts
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
    regions = torch.zeros(args.images, size, size, dtype=torch.long, device=device)  # segments = clusters
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
                _, protos = image_segments(emb, regions[: x.shape[0]], [6, 6], 15)
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


def one_size(args: argparse.Namespace) -> dict:
    """In this process: segment the photo at one setting; wall seconds and peak resident memory."""
    from hsg.inference.segmenter import NetworkSegmenter, segment_images

    opts = [f"network.backbone_depth={args.depth}", f"network.embedding_dim={args.dim}", "num_workers=0",
            f"test.image_size={args.one_size}", "test.kmeans_iterations=15"]
    if args.uncapped:
        opts.append(f"test.max_pixels={10**9}")
    cfg = load_config(opts=opts)
    cfg.test.crop_size = [512, 512]
    cfg.test.stride = [512, 512]
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_model(cfg)
    model.set_output_stride(8)
    model = model.to(device).eval()
    start = time.perf_counter()
    image = next(segment_images(cfg, NetworkSegmenter(cfg, model, device), "", args.list))
    seconds = time.perf_counter() - start
    return {"image_size": args.one_size, "capped": not args.uncapped, "working_size": list(image.ids.shape),
            "segments": int(image.features.shape[0]), "seconds": seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def by_size(args: argparse.Namespace) -> dict:
    """Every setting of ``--sizes`` in its own process, on one generated photo."""
    width, height = (int(v) for v in args.photo.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        small = rng.random((height // 64 + 2, width // 64 + 2, 3)).astype(np.float32)
        import cv2

        photo = (cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)
        cv2.imwrite(f"{tmp}/photo.jpg", photo)
        Path(f"{tmp}/list.txt").write_text(f"{tmp}/photo.jpg\n")
        for uncapped in ([False, True] if args.uncapped else [False]):
            for size in args.sizes:
                command = [sys.executable, __file__, "--one_size", str(size), "--list", f"{tmp}/list.txt",
                           "--device", args.device, "--depth", str(args.depth), "--dim", str(args.dim)]
                label = f"image_size {size or 'own'} ({'uncapped' if uncapped else 'capped'})"
                start = time.perf_counter()
                try:
                    done = subprocess.run(command + (["--uncapped"] if uncapped else []), capture_output=True,
                                          text=True, timeout=args.child_timeout)
                except subprocess.TimeoutExpired:
                    done = None
                if done is not None and done.returncode == 0:
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                    r = rows[-1]
                    print(f"{label}: working {r['working_size'][1]}x{r['working_size'][0]}, {r['seconds']:.1f} s, "
                          f"{r['peak_rss_mib']:.0f} MiB", flush=True)
                    continue
                if done is not None and done.returncode > 0:  # an error of the code, not of the machine
                    raise SystemExit(done.stderr[-3000:])
                why = (f"did not finish within {args.child_timeout:g} s" if done is None else
                       f"killed by signal {-done.returncode}" +
                       (" (SIGKILL: the kernel's out-of-memory killer)" if done.returncode == -9 else ""))
                rows.append({"image_size": size, "capped": not uncapped, "failed": why,
                             "seconds": time.perf_counter() - start})
                print(f"{label}: {why} after {rows[-1]['seconds']:.0f} s", flush=True)
    return {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(), "depth": args.depth,
            "photo": args.photo, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device to time on")
    parser.add_argument("--depth", type=int, default=50, help="ResNet depth of the backbone")
    parser.add_argument("--dim", type=int, default=128, help="embedding width")
    parser.add_argument("--image_size", type=int, default=512, help="longer side of the test images (the speed table)")
    parser.add_argument("--images", type=int, default=8, help="images timed per row")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4],
                        help="inference batch sizes, one row each")
    parser.add_argument("--memory", type=int, default=380000,
                        help="number of prototypes in the labelled memory of the kNN vote")
    parser.add_argument("--out", default=None, help="JSON output (default benchmarks/results/inference_speed.json, "
                                                     "or inference_memory.json with --sizes)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="time and peak memory per test.image_size (0: the photo's own size)")
    parser.add_argument("--photo", default="6000x4000", help="--sizes: the photo's width x height")
    parser.add_argument("--uncapped", action="store_true", help="--sizes: also without test.max_pixels")
    parser.add_argument("--child_timeout", type=float, default=900,
                        help="--sizes: seconds one setting may take before it is recorded as unfinished")
    parser.add_argument("--one_size", type=int, default=None, help=argparse.SUPPRESS)  # a child of --sizes
    parser.add_argument("--list", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_size is not None:
        print(json.dumps(one_size(args)))
        return
    if args.sizes:
        result = by_size(args)
        out = Path(args.out or "benchmarks/results/inference_memory.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
        return
    result = run(args)
    print(f"device {result['device']}, ResNet-{args.depth}, {args.image_size}x{args.image_size}, "
          f"{args.images} images, memory of {args.memory} prototypes, {result['threads']} threads")
    print(f"{'method':<32} {'embed ms':>9} {'k-means ms':>11} {'kNN ms':>8} {'images/s':>9}")
    for r in result["rows"]:
        print(f"{r['method']:<32} {r['embed_ms_per_image']:9.1f} {r['kmeans_ms_per_image']:11.1f} "
              f"{r['knn_ms_per_image']:8.1f} {r['images_per_s']:9.2f}")
    out = Path(args.out or "benchmarks/results/inference_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
