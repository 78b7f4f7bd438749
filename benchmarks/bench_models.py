"""Speed of the networks: the ResNet backbone + head at each output stride, and the clustering transformer.

    python benchmarks/bench_models.py                       # CPU, small sizes
    python benchmarks/bench_models.py --device cuda --batch 16 --size 448 --amp

Prints a table and writes JSON (``--out``, default ``outputs/benchmarks/models.json``). Each row is the
median over ``--repeat`` timed runs after one warm-up run; "fwd+bwd" rows run the backward pass of the sum
of the outputs in train mode, as a training step would.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from hsg.cli.common import parser_texts
from hsg.models.head import embedding_head
from hsg.models.resnet import ResNet
from hsg.models.transformer import TransformerClustering


def _time(fn: Callable[[], None], device: torch.device, repeat: int) -> float:
    """Median seconds of ``fn`` (synchronising CUDA around each run)."""
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_backbone(args: argparse.Namespace, device: torch.device) -> list[dict]:
    backbone = ResNet(args.depth, width=args.width).to(device)
    head = embedding_head(backbone.out_channels, 128).to(device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    rows = []
    for output_stride in (32, 16, 8):
        backbone.set_output_stride(output_stride)
        for backward in (False, True):
            backbone.train(backward)
            head.train(backward)

            def step() -> None:
                with torch.set_grad_enabled(backward), torch.autocast(device.type, torch.bfloat16,
                                                                      enabled=args.amp):
                    out = head(backbone(x))
                if backward:
                    out.float().sum().backward()

            seconds = _time(step, device, args.repeat)
            rows.append({"module": f"resnet{args.depth}+head", "setting": f"OS{output_stride}",
                         "pass": "fwd+bwd" if backward else "fwd", "batch": args.batch,
                         "input": f"{args.size}x{args.size}", "ms": 1e3 * seconds,
                         "items_per_s": args.batch / seconds})
    return rows


def bench_transformer(args: argparse.Namespace, device: torch.device) -> list[dict]:
    dim, length = 128, args.nodes
    model = TransformerClustering(dim).to(device)
    src = torch.nn.functional.normalize(torch.randn(args.images, dim, length, device=device), dim=1)
    pos = torch.rand(args.images, dim, length, device=device)
    mask = torch.arange(length, device=device)[None, :] >= torch.randint(length // 4, length, (args.images, 1),
                                                                         device=device)
    queries = torch.randn(8, dim, device=device)
    rows = []
    for backward in (False, True):
        model.train(backward)
        leaf = src.clone().requires_grad_(backward)

        def step() -> None:
            with torch.set_grad_enabled(backward), torch.autocast(device.type, torch.bfloat16, enabled=args.amp):
                out = model(leaf, mask, queries, pos)
            if backward:
                (out.logits.sum() + out.centroid_feats.sum()).backward()

        seconds = _time(step, device, args.repeat)
        rows.append({"module": "transformer C=128 Q=8", "setting": f"L={length}", "pass": "fwd+bwd" if backward
                     else "fwd", "batch": args.images, "input": f"{args.images}x{length} nodes",
                     "ms": 1e3 * seconds, "items_per_s": args.images / seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device to time on")
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50, 101), help="ResNet depth of the backbone")
    parser.add_argument("--width", type=int, default=64, help="ResNet base width (64: the paper's)")
    parser.add_argument("--batch", type=int, default=2, help="images per backbone pass")
    parser.add_argument("--size", type=int, default=224, help="square input side")
    parser.add_argument("--images", type=int, default=16, help="sequences per transformer pass")
    parser.add_argument("--nodes", type=int, default=256, help="padded node-sequence length")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions per row; the best is reported")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "outputs" / "benchmarks" / "models.json",
                        help="JSON file of the results")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = bench_backbone(args, device) + bench_transformer(args, device)

    header = f"{'module':<24}{'setting':<10}{'pass':<9}{'batch':>6}  {'input':<18}{'ms':>10}{'items/s':>10}"
    print(f"device={device} threads={torch.get_num_threads()} amp={args.amp} torch={torch.__version__}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['module']:<24}{r['setting']:<10}{r['pass']:<9}{r['batch']:>6}  {r['input']:<18}"
              f"{r['ms']:>10.1f}{r['items_per_s']:>10.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": str(device), "threads": torch.get_num_threads(), "amp": args.amp, "torch": torch.__version__}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
