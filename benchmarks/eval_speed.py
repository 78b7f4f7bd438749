"""How fast pyenv/eval.py scores a VOC-val-sized set of label PNGs, against the original's way of counting.

    python benchmarks/eval_speed.py                       # 1449 synthetic 500x375 pairs (VOC val size)
    python benchmarks/eval_speed.py --source voc          # the real VOC masks in ../shared/data, perturbed

Rows:
* ``original-style``: one file after another, ``convert('L')`` and three ``np.histogram`` calls per image,
  as ``benchmark_by_mIoU.py`` does;
* ``hsg.evaluation``: our folder scoring (one ``bincount`` per image) with 1, 2, ... reading threads;
* ``counting only``: both counting methods on arrays already in memory, so decoding is left out.

The files are read once before timing (warm page cache), each row is the best of ``--repeats`` runs, and
the two methods' numbers are checked to agree. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from hsg.cli.common import parser_texts
from hsg.data.io import read_label_map
from hsg.evaluation.confusion import add_confusion, confusion_matrix, semantic_scores
from hsg.evaluation.pairs import Pair, pair_by_folder, score_pairs

ROOT = Path(__file__).resolve().parents[1]


def synthetic_pair(rng: np.random.Generator, height: int, width: int, num_classes: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A VOC-like ground truth (blobs of 1-3 classes on background, a 255 outline) and a flawed prediction."""
    coarse = np.zeros((6, 8), np.uint8)
    for cls in rng.choice(np.arange(1, num_classes), size=rng.integers(1, 4), replace=False):
        r, c = rng.integers(0, 5), rng.integers(0, 7)
        coarse[r:r + rng.integers(1, 4), c:c + rng.integers(1, 5)] = cls
    rows = np.arange(height) * 6 // height
    cols = np.arange(width) * 8 // width
    gt = coarse[rows][:, cols]
    edge = np.zeros_like(gt, dtype=bool)
    edge[1:] |= gt[1:] != gt[:-1]
    edge[:, 1:] |= gt[:, 1:] != gt[:, :-1]
    pred = np.roll(gt, (int(rng.integers(-8, 9)), int(rng.integers(-8, 9))), axis=(0, 1))
    r, c = rng.integers(0, height - 60), rng.integers(0, width - 80)
    pred[r:r + 60, c:c + 80] = rng.integers(0, num_classes)
    gt = np.where(edge | np.roll(edge, 2, axis=0) | np.roll(edge, 2, axis=1), 255, gt).astype(np.uint8)
    return gt, pred


def make_dataset(out: Path, source: str, num_images: int, size: tuple[int, int], num_classes: int,
                 data_dir: Path) -> None:
    """Write ``out/gt/*.png`` and ``out/pred/*.png``."""
    (out / "gt").mkdir(parents=True, exist_ok=True)
    (out / "pred").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if source == "voc":
        masks = sorted((data_dir / "VOC2012" / "segcls").glob("*.png"))
        if not masks:
            raise SystemExit(f"{data_dir}: no VOC2012/segcls/*.png masks found")
    for i in range(num_images):
        if source == "voc":
            gt = read_label_map(masks[i % len(masks)])
            pred = np.roll(np.where(gt == 255, 0, gt), int(rng.integers(-8, 9)), axis=1).astype(np.uint8)
        else:
            gt, pred = synthetic_pair(rng, size[1], size[0], num_classes)
        Image.fromarray(gt).save(out / "gt" / f"{i:05d}.png")
        Image.fromarray(pred).save(out / "pred" / f"{i:05d}.png")


def original_stats(pred: np.ndarray, gt: np.ndarray, num_classes: int) -> tuple[np.ndarray, ...]:
    """The original's per-image counting: a mask and three ``np.histogram`` calls."""
    locs = (gt > -1) & (gt < num_classes)
    bins = np.arange(num_classes + 1)
    tp_fn, _ = np.histogram(gt[locs], bins=bins)
    tp_fp, _ = np.histogram(pred[locs], bins=bins)
    tp, _ = np.histogram(gt[locs & (pred == gt)], bins=bins)
    return tp_fn, tp_fp, tp


def original_style(pairs: list[Pair], num_classes: int) -> float:
    """Serial reading with ``convert('L')`` and histogram counting; returns the mIoU (original formula)."""
    tp_fn = np.zeros(num_classes)
    tp_fp = np.zeros(num_classes)
    tp = np.zeros(num_classes)
    for pair in pairs:
        pred = np.asarray(Image.open(pair.pred).convert(mode="L"), dtype=np.uint8)
        gt = np.asarray(Image.open(pair.gt).convert(mode="L"), dtype=np.uint8)
        a, b, c = original_stats(pred, gt, num_classes)
        tp_fn += a
        tp_fp += b
        tp += c
    return float((tp / (tp_fn + tp_fp - tp + 1e-12) * 100.0).sum() / num_classes)


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--source", choices=("synthetic", "voc"), default="synthetic",
                        help="synthetic masks, or real VOC ground truth (--data_dir)")
    parser.add_argument("--num_images", type=int, default=1449, help="1449 = the VOC 2012 val set")
    parser.add_argument("--size", type=int, nargs=2, default=(500, 375), metavar=("W", "H"),
                        help="mask size of the synthetic source")
    parser.add_argument("--num_classes", type=int, default=21, help="number of classes scored")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="reader thread counts to time, one row each")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row; the best is reported")
    parser.add_argument("--data_dir", type=Path, default=ROOT.parent / "shared" / "data" / "VOCdevkit",
                        help="VOCdevkit folder for --source voc")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_speed.json",
                        help="JSON file of the results")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other jobs on the machine skew the thread rows; record it

    with tempfile.TemporaryDirectory(prefix="hsg_eval_speed_") as tmp:
        tmp_dir = Path(tmp)
        start = time.perf_counter()
        make_dataset(tmp_dir, args.source, args.num_images, tuple(args.size), args.num_classes, args.data_dir)
        generate_s = time.perf_counter() - start
        pairs = pair_by_folder(tmp_dir / "pred", tmp_dir / "gt").pairs
        arrays = [(read_label_map(p.gt), read_label_map(p.pred)) for p in pairs]  # also warms the page cache
        pixels = sum(g.size for g, _ in arrays)
        num_classes = args.num_classes

        rows = []
        base_s, base_miou = best_of(args.repeats, lambda: original_style(pairs, num_classes))
        rows.append({"method": "original-style (np.histogram, serial)", "workers": 1, "seconds": base_s})
        for workers in args.workers:
            seconds, conf = best_of(args.repeats, lambda: score_pairs(pairs, num_classes, workers=workers))
            ours_miou = semantic_scores(conf, original_quirks=True)["miou"]
            if abs(ours_miou - base_miou) > 1e-9:
                raise SystemExit(f"mIoU differs: ours {ours_miou} vs original-style {base_miou}")
            rows.append({"method": "hsg.evaluation (bincount, threads)", "workers": workers, "seconds": seconds})

        def count_original() -> None:
            for gt, pred in arrays:
                original_stats(pred, gt, num_classes)

        def count_ours() -> None:
            total = None
            for gt, pred in arrays:
                total = add_confusion(total, confusion_matrix(gt, pred, num_classes))

        for name, fn in (("counting only: original-style", count_original), ("counting only: ours", count_ours)):
            rows.append({"method": name, "workers": 1, "seconds": best_of(args.repeats, fn)[0]})

    for row in rows:
        row["images_per_s"] = args.num_images / row["seconds"]
        row["speedup_vs_original"] = base_s / row["seconds"]
    width = max(len(r["method"]) for r in rows)
    print(f"{args.num_images} {args.source} pairs, {pixels / args.num_images / 1e3:.0f}k pixels each, "
          f"{args.num_classes} classes; {os.cpu_count()} CPU cores (1-min load {load_before:.1f} before); "
          f"generated in {generate_s:.1f} s")
    print(f"{'method':<{width}}  workers  seconds  images/s  speed-up")
    for r in rows:
        print(f"{r['method']:<{width}}  {r['workers']:>7}  {r['seconds']:7.2f}  {r['images_per_s']:8.0f}  "
              f"{r['speedup_vs_original']:7.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "source": args.source, "num_images": args.num_images, "size_wh": list(args.size),
        "num_classes": args.num_classes, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "load_average_1min_before": load_before,
        "python": platform.python_version(), "numpy": np.__version__, "miou_check": base_miou, "rows": rows,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
