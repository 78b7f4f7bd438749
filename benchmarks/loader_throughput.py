"""Training loader throughput: two-view samples per second, total and per worker, on real VOC images.

    python benchmarks/loader_throughput.py --data_dir ../shared/data/VOCdevkit --crops 224 448 \\
        --workers 0 1 2 --out benchmarks/results/loader_throughput.json

Over-segmentations: ``VOC2012/<--oversegmentation_dir>/<id>.png`` when they exist; otherwise a Felzenszwalb
over-segmentation (scikit-image, about 50-150 regions an image, uint16 PNG) is generated once into a
temporary folder before timing, so region maps have realistic size and entropy.

Rows (same images, same crop, same batch size):
* ``hsg``: our pipeline through ``build_train_loader`` with 0, 1, 2, ... workers;
* ``hsg, no colour``: the same with colour jitter and grayscale off (the colour stage's cost);
* ``hsg, PIL decode``: the same with images decoded by PIL instead of OpenCV (the decoder's cost);
* ``PIL path (original-style)``: the original's steps written out: PIL decode, full-image float resize
  of image and 2-channel label, pad, crop, then ColorJitter/RandomGrayscale through PIL ImageEnhance/HSV as
  torchvision does on PIL images.
Baselines run in the main process (0 workers). A stage breakdown (ms per two-view sample, in-process)
follows. OpenCV runs one thread per process throughout (as the loaders set it when they have workers),
so a row measures what one core does. The first ``--warmup`` batches of a run are not timed (worker
start-up, page cache). The rows are timed round-robin ``--repeats`` times and each reports its best run:
on a shared machine other load only ever slows a run down, and round-robin exposes every row to it alike.
``CPU ms/sample`` is the CPU time of all processes (main and workers, start-up included) per sample of
an epoch: the cost of a row, which other load on the machine hardly changes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageEnhance
from torch.utils.data import DataLoader, Dataset

from hsg.cli.common import parser_texts
from hsg.config.config import get_default_config
from hsg.data.datasets import TrainDataset, train_collate
from hsg.data.lists import write_list
from hsg.data.loader import build_train_loader
from hsg.data import transforms as T
from hsg.data.io import read_image, read_label_map

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ data
def image_ids(data_dir: Path, num_images: int) -> list[str]:
    listing = data_dir / "train_mini.txt"
    if listing.is_file():
        ids = [Path(line.split()[0]).stem for line in listing.read_text().splitlines() if line.strip()]
    else:
        ids = sorted(p.stem for p in (data_dir / "VOC2012" / "JPEGImages").glob("*.jpg"))
    if not ids:
        raise SystemExit(f"no VOC images under {data_dir}")
    return ids[:num_images]


def prepare_list(data_dir: Path, num_images: int, oversegmentation_dir: str, work: Path) -> tuple[Path, str]:
    """A three-column list; generates Felzenszwalb region maps for images that have none."""
    from skimage.segmentation import felzenszwalb

    rows, generated = [], 0
    for image_id in image_ids(data_dir, num_images):
        image_rel = f"VOC2012/JPEGImages/{image_id}.jpg"
        region = data_dir / "VOC2012" / oversegmentation_dir / f"{image_id}.png"
        if not region.is_file():
            labels = felzenszwalb(read_image(data_dir / image_rel), scale=300, sigma=0.8, min_size=200)
            region = work / f"{image_id}.png"
            Image.fromarray((labels + 1).astype(np.uint16)).save(region)
            generated += 1
        rows.append((image_rel, "-", str(region)))
    write_list(work / "list.txt", rows)
    source = f"generated (Felzenszwalb) for {generated} of {len(rows)}" if generated else "on disk"
    return work / "list.txt", source


def config(crop: int, workers: int, colour: bool = True):
    cfg = get_default_config()
    cfg.train.crop_size = [crop, crop]
    cfg.num_workers = workers
    if not colour:
        cfg.train.color_jitter_prob = 0.0
        cfg.train.random_grayscale = 0.0
    return cfg


class PILDecodeDataset(TrainDataset):
    """Our pipeline with PIL as the image decoder."""

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        sample = self.samples[index]
        image = np.asarray(Image.open(sample.image).convert("RGB"))
        return image, read_label_map(sample.oversegmentation)


class OriginalStyleDataset(Dataset):
    """The original's per-view steps (reference section 1.5) with torchvision's PIL colour path."""

    def __init__(self, samples: list, crop: int) -> None:
        self.samples, self.crop = samples, crop
        self.mean = np.array([0.485, 0.456, 0.406], np.float32)
        self.std = np.array([0.229, 0.224, 0.225], np.float32)
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return len(self.samples)

    def _jitter(self, pil: Image.Image) -> Image.Image:
        rng = self.rng
        if rng.uniform() < 0.8:
            factors = [rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), rng.uniform(-0.1, 0.1)]
            for i in rng.permutation(4):
                if i == 0:
                    pil = ImageEnhance.Brightness(pil).enhance(factors[0])
                elif i == 1:
                    pil = ImageEnhance.Contrast(pil).enhance(factors[1])
                elif i == 2:
                    pil = ImageEnhance.Color(pil).enhance(factors[2])
                else:
                    h, s, v = pil.convert("HSV").split()
                    hue = np.array(h, dtype=np.uint8)
                    hue += np.uint8(int(factors[3] * 255) % 256)
                    pil = Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert("RGB")
        if rng.uniform() < 0.2:
            pil = pil.convert("L").convert("RGB")
        return pil

    def _view(self, image: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        if rng.uniform() >= 0.5:
            image, label = image[:, ::-1], label[:, ::-1]
        r = rng.uniform(0.5, 1.5)
        h, w = image.shape[:2]
        size = (int(r * w), int(r * h))
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(np.ascontiguousarray(label), size, interpolation=cv2.INTER_NEAREST)
        ph, pw = max(size[1], self.crop), max(size[0], self.crop)
        pad_img = np.empty((ph, pw, 3), np.float32)
        pad_img[:] = self.mean
        pad_img[:size[1], :size[0]] = image
        pad_lab = np.full((ph, pw, 2), 255, np.int32)
        pad_lab[:size[1], :size[0]] = label
        y0 = int(np.floor(rng.uniform(0, ph - self.crop)))
        x0 = int(np.floor(rng.uniform(0, pw - self.crop)))
        image = pad_img[y0:y0 + self.crop, x0:x0 + self.crop]
        label = pad_lab[y0:y0 + self.crop, x0:x0 + self.crop]
        pil = self._jitter(Image.fromarray((image * 255).astype(np.uint8), mode="RGB"))
        image = (np.asarray(pil).astype(np.float32) / 255 - self.mean) / self.std
        return image.transpose(2, 0, 1), label[..., 1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        image = np.array(Image.open(sample.image).convert("RGB")).astype(np.float32) / 255
        region = np.array(Image.open(sample.oversegmentation).convert("I"))
        label = np.stack([np.zeros_like(region), region], axis=2)
        views = [self._view(image, label) for _ in range(2)]
        return {"image": torch.from_numpy(np.stack([v[0] for v in views])),
                "oversegmentation": torch.from_numpy(np.stack([v[1] for v in views]).astype(np.int64)),
                "image_id": torch.tensor([index, index])}


# ------------------------------------------------------------------------------------------ timing
def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (DataLoader workers are joined per epoch)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_loader(loader, warmup: int) -> tuple[float, int, float]:
    """Wall seconds and samples of the batches after ``warmup``, and CPU seconds per sample of the
    whole epoch over all processes (robust to other load on a shared machine)."""
    samples, start, total = 0, None, 0
    cpu0 = cpu_seconds()
    for i, batch in enumerate(loader):
        n = batch["image_id"].numel() // 2
        total += n
        if i == warmup:
            start = time.perf_counter()
        if i >= warmup:
            samples += n
    wall = time.perf_counter() - start if start is not None else 0.0
    del loader  # joins the workers, so their CPU time is counted
    if start is None or samples == 0:
        raise SystemExit("too few images for the warm-up: raise --num_images")
    return wall, samples, (cpu_seconds() - cpu0) / total


def row(name: str, crop: int, workers: int, seconds: float, samples: int, cpu_per_sample: float) -> dict[str, Any]:
    rate = samples / seconds
    return {"pipeline": name, "crop": crop, "workers": workers, "samples": samples,
            "samples_per_s": rate, "samples_per_s_per_worker": rate / max(1, workers),
            "cpu_ms_per_sample": 1000 * cpu_per_sample}


def stage_breakdown(ds: TrainDataset, repeats: int) -> dict[str, float]:
    """Milliseconds per two-view sample for each stage, in this process; per stage the best pass."""
    p = ds.params
    rng = np.random.default_rng(0)
    best: dict[str, float] = {}
    for _ in range(repeats):
        totals = dict.fromkeys(("decode image", "decode region", "to float", "warp image x2", "warp region x2",
                                "colour x2", "normalise x2"), 0.0)
        for sample in ds.samples:
            t0 = time.perf_counter()
            image = read_image(sample.image)
            t1 = time.perf_counter()
            region = read_label_map(sample.oversegmentation)
            t2 = time.perf_counter()
            image_f = image.astype(np.float32) / 255
            t3 = time.perf_counter()
            totals["decode image"] += t1 - t0
            totals["decode region"] += t2 - t1
            totals["to float"] += t3 - t2
            for _ in range(2):
                geom = T.sample_geometry(rng, image.shape[:2], p)
                a = time.perf_counter()
                view = T.warp_image(image_f, geom, p.mean)
                b = time.perf_counter()
                T.warp_labels(region, geom)
                c = time.perf_counter()
                view = T.colour_augment((view * 255).astype(np.uint8), rng, p)
                d = time.perf_counter()
                T.normalise(view, p.mean, p.std)
                e = time.perf_counter()
                totals["warp image x2"] += b - a
                totals["warp region x2"] += c - b
                totals["colour x2"] += d - c
                totals["normalise x2"] += e - d
        for k, v in totals.items():
            best[k] = min(best.get(k, np.inf), 1000 * v / len(ds.samples))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(**parser_texts(__doc__))
    ap.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "data" / "VOCdevkit"),
                    help="VOCdevkit folder of the images")
    ap.add_argument("--oversegmentation_dir", "--seginst_dir", dest="oversegmentation_dir", default="rf_0.25_48",
                    help="folder of VOC over-segmentations under VOC2012/ (else Felzenszwalb regions are made)")
    ap.add_argument("--crops", type=int, nargs="+", default=[224, 448], help="training crop sizes, one row each")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="DataLoader worker counts, one row each")
    ap.add_argument("--num_images", type=int, default=96, help="VOC images in the timed list")
    ap.add_argument("--batch_size", type=int, default=8, help="images per batch")
    ap.add_argument("--warmup", type=int, default=2, help="batches per row that are not timed")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per row; the best one is reported")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "loader_throughput.json"),
                    help="JSON file of the results")
    args = ap.parse_args()

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    stages: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        list_file, region_source = prepare_list(Path(args.data_dir), args.num_images, args.oversegmentation_dir, Path(tmp))

        def ours(dataset_class, cfg):
            return lambda: build_train_loader(cfg, dataset_class(cfg, args.data_dir, str(list_file)), 0, 1,
                                              args.batch_size, cfg.seed)

        def original_style(crop):
            samples = TrainDataset(config(crop, 0), args.data_dir, str(list_file)).samples
            return lambda: DataLoader(OriginalStyleDataset(samples, crop), batch_size=args.batch_size,
                                      shuffle=True, collate_fn=train_collate, drop_last=True)

        rows: list[tuple[str, int, int, Any]] = []
        for crop in args.crops:
            rows += [("hsg", crop, w, ours(TrainDataset, config(crop, w))) for w in args.workers]
            rows += [("hsg, no colour", crop, 0, ours(TrainDataset, config(crop, 0, colour=False))),
                     ("hsg, PIL decode", crop, 0, ours(PILDecodeDataset, config(crop, 0))),
                     ("PIL path (original-style)", crop, 0, original_style(crop))]
        wall: dict[int, tuple[float, int]] = {}
        cpu: dict[int, float] = {}
        for _ in range(args.repeats):
            for i, (_, _, _, make_loader) in enumerate(rows):
                seconds, samples, cpu_per_sample = time_loader(make_loader(), args.warmup)
                if i not in wall or seconds / samples < wall[i][0] / wall[i][1]:
                    wall[i] = (seconds, samples)
                cpu[i] = min(cpu.get(i, np.inf), cpu_per_sample)
        results = [row(name, crop, w, *wall[i], cpu[i]) for i, (name, crop, w, _) in enumerate(rows)]
        for crop in args.crops:
            stages[crop] = stage_breakdown(TrainDataset(config(crop, 0), args.data_dir, str(list_file)),
                                           repeats=args.repeats)

    print(f"two-view samples/s, batch {args.batch_size}, {args.num_images} VOC images, regions {region_source}; "
          f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})")
    print(f"| {'pipeline':<26} | crop | workers | samples/s | per worker | CPU ms/sample |")
    print(f"|{'-' * 28}|------|---------|-----------|------------|---------------|")
    for r in results:
        print(f"| {r['pipeline']:<26} | {r['crop']:>4} | {r['workers']:>7} | {r['samples_per_s']:>9.1f} | "
              f"{r['samples_per_s_per_worker']:>10.1f} | {r['cpu_ms_per_sample']:>13.2f} |")
    print("\nms per two-view sample by stage (hsg, one process)")
    names = list(next(iter(stages.values())))
    print("| stage            | " + " | ".join(f"crop {c}" for c in stages) + " |")
    print("|------------------|" + "|".join("--------" + "-" * len(str(c)) for c in stages) + "|")
    for name in names:
        print(f"| {name:<16} | " + " | ".join(f"{stages[c][name]:>{5 + len(str(c))}.2f}" for c in stages) + " |")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "python benchmarks/loader_throughput.py " + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in vars(args).items()),
        "cpu_cores": os.cpu_count(), "machine": platform.machine(), "torch": torch.__version__,
        "opencv": cv2.__version__, "regions": region_source, "batch_size": args.batch_size,
        "results": results, "stages_ms_per_sample": {str(k): v for k, v in stages.items()}}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
