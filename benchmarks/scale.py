"""The cost of the paper's jobs on this machine: images/s of every long job with 1 and 2 processes, and the
hours each of the paper's jobs would take here, alone and spread over more processes.

    python benchmarks/scale.py                       # synthetic images of the real sizes; several minutes
    python benchmarks/scale.py --quick --out /tmp/scale.json    # tiny sizes and networks: a check that it runs

Jobs (each on synthetic pictures of the dataset's real size: COCO 640x480 JPEG, VOC 500x375 JPEG, Cityscapes
2048x1024 PNG; regions of many colours with shading and noise, so that edges, regions and decoding cost
what photos cost):

* ``oversegmentation <dataset>``: pyenv/oversegment.py with the gradient detector and the launcher's
  settings (COCO train2017 and VOC train_aug ``--max_regions 48``; Cityscapes ``--start_threshold 0.05
  --max_regions 1024``), ``--workers 1`` per process; 2 processes are ``torchrun --nproc_per_node 2``, whose
  ranks take disjoint shards of the list (as the launchers run it). Its own images/s line is read, so
  process start-up is not counted.
* ``loading <crop> <dataset>``: two-view training samples per second through ``build_train_loader`` (the
  loader of each training process, no workers: what one process's cores give) at the stage's crop; 2
  processes are 2 torchrun ranks, each loading its shard. Its hours are the loading of the paper's training
  (iterations x global batch of the preset), done beside the training step, not added to it.
* ``read-out memory|test <dataset>``: the read-out of pyenv/readout.py at the preset's test settings
  (``coco_stage2``: ResNet-50, 512 px, 6x6 k-means grid; ``cityscapes_stage2``: 2048x1024, 12x24 grid) on
  an untrained network (the weights do not change the time): the labelled memory pass (segments and their
  majority labels), then the test pass (segments, the kNN vote against a memory as large as the paper's
  job makes it, the prediction files). 2 processes are torchrun ranks cutting their share of whole batches
  into segments, gathered on the main process, which reads out as one process does (the program's own
  path); the main process's part is timed apart, as the part more processes do not divide.

The first batch or image of every loading and read-out row is not timed; an over-segmentation row's rate
is the program's own, whose first image carries a one-off second or so (3 % of a default row). Hours: the
paper's count of images (or two-view samples) / images/s. ``hours on N machines``: N machines like this
one, each running the faster of its rows; a job divides by N except the read-out's main-process part
(which, as the program does it, also decodes the images again to pair segments with labels). Prints a
markdown table and writes JSON (every row, the machine, the command)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the hsg beside it, as the launchers do
    sys.path.insert(0, str(ROOT))

from hsg.cli.common import parser_texts  # noqa: E402

RESULT_MARK = "[scale-result] "
# The datasets' real image sizes (width, height), their file format, and the classes of their labels.
SIZES = {"coco": (640, 480), "voc12": (500, 375), "cityscapes": (2048, 1024)}
SUFFIX = {"coco": ".jpg", "voc12": ".jpg", "cityscapes": ".png"}
CLASSES = {"coco": 21, "voc12": 21, "cityscapes": 19}
# --quick: the same jobs at a quarter of the size (Cityscapes an eighth), small networks and few images.
QUICK_SIZES = {"coco": (160, 120), "voc12": (125, 94), "cityscapes": (256, 128)}
QUICK_NETWORK = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
                 "network.node_padding=0", "test.image_size=64", "test.crop_size=[64,64]", "test.stride=[64,64]"]


@dataclass
class Job:
    """One of the paper's jobs: what runs, on which synthetic images, and how many images the paper's
    run has (``count``: images, or two-view samples for loading)."""

    name: str
    kind: str  # oversegmentation, loading, readout_memory, readout_test
    dataset: str
    count: int
    what: str  # the paper's job, in words
    settings: dict[str, Any] = field(default_factory=dict)


def paper_jobs() -> list[Job]:
    """The paper's long jobs. Training sample counts come from the presets (iterations x global batch)."""
    from hsg.config.config import load_config

    def samples(preset: str) -> int:
        t = load_config(preset).train
        return int(t.max_iteration) * int(t.batch_size)

    return [
        Job("oversegmentation coco", "oversegmentation", "coco", 118_287, "COCO train2017 masks",
            {"args": ["--max_regions", "48"]}),
        Job("oversegmentation voc12", "oversegmentation", "voc12", 10_582,
            "VOC train_aug masks (TRAIN_IMAGES=voc12)", {"args": ["--max_regions", "48"]}),
        Job("oversegmentation cityscapes", "oversegmentation", "cityscapes", 2_975, "Cityscapes train masks",
            {"args": ["--start_threshold", "0.05", "--max_regions", "1024"]}),
        Job("loading 224 coco", "loading", "coco", samples("coco_stage1"), "COCO stage 1 (350k x 128 at 224)",
            {"preset": "coco_stage1", "crop": 224}),
        Job("loading 448 coco", "loading", "coco", samples("coco_stage2"), "COCO stage 2 (20k x 48 at 448)",
            {"preset": "coco_stage2", "crop": 448}),
        Job("loading 448 cityscapes", "loading", "cityscapes", samples("cityscapes_stage2"),
            "Cityscapes (38k x 32 at 448)", {"preset": "cityscapes_stage2", "crop": 448}),
        Job("read-out memory voc12", "readout_memory", "voc12", 10_582, "VOC train_aug memory",
            {"preset": "coco_stage2"}),
        Job("read-out test voc12", "readout_test", "voc12", 1_449, "VOC val, kNN vote", {"preset": "coco_stage2"}),
        Job("read-out memory cityscapes", "readout_memory", "cityscapes", 2_975, "Cityscapes train memory",
            {"preset": "cityscapes_stage2"}),
        Job("read-out test cityscapes", "readout_test", "cityscapes", 500, "Cityscapes val, kNN vote",
            {"preset": "cityscapes_stage2"}),
    ]


# ------------------------------------------------------------------------------------------ synthetic data
def synthetic_picture(rng: np.random.Generator, width: int, height: int, classes: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """An RGB picture ``[H, W, 3]`` uint8 and its ground truth ``[H, W]`` uint8: Voronoi regions (about one per
    5,000 pixels) of random colours, smooth shading and noise, so that edge detection, the UCM, JPEG/PNG
    decoding and k-means work as hard as on a photo; the labels are the regions' classes."""
    from scipy.spatial import cKDTree

    cells = max(8, width * height // 5000)
    sh, sw = max(2, height // 4), max(2, width // 4)
    seeds = rng.random((cells, 2)) * (sh, sw)
    grid = np.stack(np.meshgrid(np.arange(sh) + 0.5, np.arange(sw) + 0.5, indexing="ij"), -1).reshape(-1, 2)
    region = cKDTree(seeds).query(grid)[1].reshape(sh, sw).astype(np.int32)
    import cv2

    region = cv2.resize(region, (width, height), interpolation=cv2.INTER_NEAREST)
    colours = rng.integers(0, 256, (cells, 3)).astype(np.float32)
    shading = cv2.resize(rng.normal(0, 25, (8, 8, 3)).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC)
    picture = colours[region] + shading + rng.normal(0, 6, (height, width, 3)).astype(np.float32)
    labels = rng.integers(0, classes, cells).astype(np.uint8)[region]
    return picture.clip(0, 255).astype(np.uint8), labels


def make_dataset(folder: Path, dataset: str, size: tuple[int, int], count: int, seed: int
                 ) -> list[tuple[str, str, str]]:
    """``count`` synthetic pictures of ``dataset`` under ``folder`` and the list rows ``(image, label, mask)``
    (absolute paths; the masks are made by the over-segmentation job)."""
    import cv2

    rng = np.random.default_rng(seed)
    rows = []
    for sub in ("images", "labels", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picture, labels = synthetic_picture(rng, *size, CLASSES[dataset])
        image = folder / "images" / f"{dataset}_{i:04d}{SUFFIX[dataset]}"
        label = folder / "labels" / f"{dataset}_{i:04d}.png"
        cv2.imwrite(str(image), picture[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90] if image.suffix == ".jpg" else [])
        cv2.imwrite(str(label), labels)
        rows.append((str(image), str(label), str(folder / "masks" / f"{dataset}_{i:04d}.png")))
    return rows


# ------------------------------------------------------------------------------------------ launching
def child_environment(threads: int | None) -> dict[str, str]:
    """The environment of a measured process: hsg from this checkout first (as the launchers), no
    inherited torchrun variables; ``threads`` (--threads) pins OMP_NUM_THREADS, else the programs choose."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def launch(program: list[str], processes: int, env: dict[str, str], timeout: float) -> str:
    """Run a Python program as one process, or as ``processes`` torchrun ranks on this machine (as
    bashscripts/lib.sh's hsg_python does); its stdout. A failure stops the benchmark with its stderr."""
    command = [sys.executable, *program] if processes == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
         "--nproc_per_node", str(processes), *program]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed ({' '.join(command)}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def results_of(stdout: str) -> list[dict]:
    """The JSON results a child printed on its main process."""
    return [json.loads(line[len(RESULT_MARK):]) for line in stdout.splitlines() if line.startswith(RESULT_MARK)]


OVERSEG_LINE = re.compile(r"\[oversegment\] .*?(\d+) images: (\d+) written.*?, ([\d.]+) images/s")


def time_oversegmentation(job: Job, list_file: Path, processes: int, env: dict[str, str], timeout: float) -> dict:
    """pyenv/oversegment.py on the list (every mask rewritten); the images/s of all processes together:
    their images over the longest one's own processing time (each program reports its rate without its
    start-up)."""
    program = [str(ROOT / "pyenv" / "oversegment.py"), "--data_list", str(list_file), "--workers", "1",
               "--overwrite", "--detector", "gradient", *job.settings["args"]]
    started = time.perf_counter()
    stdout = launch(program, processes, env, timeout)
    wall = time.perf_counter() - started
    parts = [(int(m.group(2)), float(m.group(3))) for m in OVERSEG_LINE.finditer(stdout)]
    if len(parts) != processes or any(rate <= 0 for _, rate in parts):
        raise SystemExit(f"expected {processes} rate line(s) from pyenv/oversegment.py, got:\n{stdout[-2000:]}")
    images = sum(n for n, _ in parts)
    seconds = max(n / rate for n, rate in parts)
    return {"images": images, "seconds": seconds, "wall_seconds_with_startup": wall}


# ------------------------------------------------------------------------------------------ children
def _main_print(dist, payload: Any) -> None:
    if dist.is_main:
        print(RESULT_MARK + json.dumps(payload), flush=True)


def child_loading(spec: dict) -> None:
    """In each process (alone or a torchrun rank): time its training loader on its shard of each list."""
    import torch  # noqa: F401  (the loader's tensors)

    from hsg.config.config import load_config
    from hsg.data.datasets import TrainDataset
    from hsg.data.loader import build_train_loader
    from hsg.engine import distributed as du

    dist = du.init_distributed("cpu", timeout_minutes=60)
    out = []
    for job in spec["jobs"]:
        cfg = load_config(job["preset"], opts=["num_workers=0", f"train.crop_size=[{job['crop']},{job['crop']}]"])
        loader = build_train_loader(cfg, TrainDataset(cfg, "", job["list"]), dist.rank, dist.world_size,
                                    job["batch"], cfg.seed)
        batches = loader.iterate_from(0)
        next(batches)  # not timed: the first decode, allocations
        du.barrier()
        start, samples = time.perf_counter(), 0
        for _ in range(job["batches"]):
            samples += next(batches)["image_id"].numel() // 2  # two views per sample
        parts = du.gather_to_main((samples, time.perf_counter() - start))
        if dist.is_main:
            out.append({"name": job["name"], "images": sum(p[0] for p in parts), "seconds": max(p[1] for p in parts)})
    _main_print(dist, out)
    du.cleanup()


def _readout_segmenter(cfg, network, dist, data_list: str) -> tuple[Any, float]:
    """What the read-out reads the list's segments from, as pyenv/readout.py does it, and the seconds this
    process spent making them: one process, the network itself (nothing ahead of the read-out); several, each
    cuts its share of whole batches and the main process gets them all in a ReplaySegmenter (None on the
    others)."""
    from hsg.engine import distributed as du
    from hsg.inference.segmenter import ReplaySegmenter, segment_share

    if dist.world_size == 1:
        return network, 0.0
    start = time.perf_counter()
    parts = du.gather_to_main(segment_share(cfg, network, "", data_list, dist.rank, dist.world_size))
    spent = time.perf_counter() - start
    if not dist.is_main:
        return None, spent
    return ReplaySegmenter(network, {path: r for part in parts for path, r in part.items()}), spent


def child_readout(spec: dict) -> None:
    """In each process: the memory and test passes of the read-out as pyenv/readout.py runs them (one
    process: the network segmenter directly; several: each cuts its share into segments, the main process
    gathers them and reads out through a ReplaySegmenter)."""
    import torch

    from hsg.config.config import load_config
    from hsg.engine import distributed as du
    from hsg.inference.load import load_model
    from hsg.inference.readout import build_memory, predict
    from hsg.inference.segmenter import NetworkSegmenter, segment_share

    dist = du.init_distributed("cpu", timeout_minutes=360)
    device = dist.device
    out = []
    for job in spec["jobs"]:
        cfg = load_config(job["preset"], opts=["num_workers=0", "device=cpu", *job["opts"]])
        network = NetworkSegmenter(cfg, load_model(cfg, None, device), device)

        segment_share(cfg, network, "", job["warmup_list"], 0, 1)  # not timed: first passes, allocations
        du.barrier()
        start = time.perf_counter()
        segmenter, shared = _readout_segmenter(cfg, network, dist, job["memory_list"])
        if dist.is_main:
            memory, labels = build_memory(cfg, segmenter, "", job["memory_list"])
        memory_seconds = time.perf_counter() - start
        memory_serial = memory_seconds - shared if dist.world_size > 1 else None  # one process: not apart
        if dist.is_main:  # the paper's memory: its images x the segments an image gives here
            per_image = memory.shape[0] / job["memory_images"]
            size = max(memory.shape[0], min(round(per_image * job["paper_memory_images"]), job["memory_cap"]))
            generator = torch.Generator().manual_seed(0)
            extra = size - memory.shape[0]
            memory = torch.cat([memory, torch.nn.functional.normalize(
                torch.randn(extra, memory.shape[1], generator=generator), dim=1)])
            labels = torch.cat([labels, torch.randint(0, cfg.dataset.num_classes, (extra,), generator=generator)])
        du.barrier()
        start = time.perf_counter()
        segmenter, shared = _readout_segmenter(cfg, network, dist, job["test_list"])
        if dist.is_main:
            predict(cfg, segmenter, "", job["test_list"], Path(job["save_dir"]), ("knn",), (memory, labels), device)
        test_seconds = time.perf_counter() - start
        test_serial = test_seconds - shared if dist.world_size > 1 else None
        du.barrier()
        if dist.is_main:
            out.append({"name": job["memory_name"], "images": job["memory_images"], "seconds": memory_seconds,
                        "main_process_seconds": memory_serial, "segments_per_image": per_image})
            out.append({"name": job["test_name"], "images": job["test_images"], "seconds": test_seconds,
                        "main_process_seconds": test_serial, "memory_prototypes": int(memory.shape[0])})
    _main_print(dist, out)
    du.cleanup()


# ------------------------------------------------------------------------------------------ the benchmark
def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes, image counts and settings of this run (--quick: tiny)."""
    quick = args.quick
    return {
        "sizes": QUICK_SIZES if quick else SIZES,
        "overseg_images": {"coco": 4, "voc12": 4, "cityscapes": 4} if quick else
                          {"coco": args.images, "voc12": args.images, "cityscapes": max(2, args.images // 6)},
        "loading": {"batch": 2 if quick else 4, "batches": 1 if quick else 4,
                    "crop": {224: 56, 448: 112} if quick else {224: 224, 448: 448}},
        "readout_images": {"voc12": 2 if quick else args.readout_images,
                           "cityscapes": 2 if quick else max(2, args.readout_images // 4)},
        "readout_opts": QUICK_NETWORK if quick else [],
        "memory_cap": 2000 if quick else 10**9,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    jobs = paper_jobs()
    p = plan(args)
    env = child_environment(args.threads)
    rows: list[dict[str, Any]] = []

    def add(job: Job, processes: int, measured: dict) -> None:
        rate = measured["images"] / measured["seconds"]
        rows.append({"job": job.name, "kind": job.kind, "dataset": job.dataset, "what": job.what,
                     "paper_count": job.count, "processes": processes, **measured, "images_per_s": rate,
                     "hours": job.count / rate / 3600})
        print(f"  {job.name}, {processes} process(es): {rate:.3g} images/s", flush=True)

    with tempfile.TemporaryDirectory(prefix="hsg_scale_") as tmp:
        work = Path(tmp)
        data: dict[str, list[tuple[str, str, str]]] = {}
        lists: dict[str, Path] = {}
        from hsg.data.lists import write_list

        for i, dataset in enumerate(SIZES):
            data[dataset] = make_dataset(work / dataset, dataset, p["sizes"][dataset], p["overseg_images"][dataset], i)
            lists[dataset] = work / f"{dataset}.txt"
            write_list(lists[dataset], data[dataset])
        print(f"synthetic images in {work}: " + ", ".join(f"{len(data[d])} {d} at {w}x{h}"
                                                           for d, (w, h) in p["sizes"].items()), flush=True)
        for processes in args.processes:
            for job in (j for j in jobs if j.kind == "oversegmentation"):
                add(job, processes, time_oversegmentation(job, lists[job.dataset], processes, env, args.timeout))

        loading = [j for j in jobs if j.kind == "loading"]
        # a batch per process no larger than its shard of the images (the loader refuses a shard without one)
        specs = [{"name": j.name, "preset": j.settings["preset"], "crop": p["loading"]["crop"][j.settings["crop"]],
                  "list": str(lists[j.dataset]), "batches": p["loading"]["batches"],
                  "batch": min(p["loading"]["batch"], len(data[j.dataset]) // max(args.processes))} for j in loading]
        for processes in args.processes:
            spec = work / "loading.json"
            spec.write_text(json.dumps({"jobs": specs}))
            for measured in results_of(launch([__file__, "--child", "loading", "--spec", str(spec)], processes, env,
                                              args.timeout))[0]:
                name = measured.pop("name")
                add(next(j for j in loading if j.name == name), processes, measured)

        readout = [j for j in jobs if j.kind.startswith("readout")]
        specs = []
        for dataset in ("voc12", "cityscapes"):
            n = p["readout_images"][dataset]
            rows_m, rows_t = data[dataset][:n], data[dataset][n:2 * n]
            if len(rows_t) < n:
                raise SystemExit(f"--images gives too few {dataset} images for 2 x {n} read-out images")
            for name, part in (("memory", rows_m), ("test", rows_t), ("warmup", data[dataset][:1])):
                write_list(work / f"{dataset}_{name}.txt", [r[:2] for r in part])
            memory_job = next(j for j in readout if j.dataset == dataset and j.kind == "readout_memory")
            test_job = next(j for j in readout if j.dataset == dataset and j.kind == "readout_test")
            specs.append({"preset": memory_job.settings["preset"], "opts": p["readout_opts"],
                          "memory_list": str(work / f"{dataset}_memory.txt"),
                          "test_list": str(work / f"{dataset}_test.txt"),
                          "warmup_list": str(work / f"{dataset}_warmup.txt"), "save_dir": str(work / f"{dataset}_out"),
                          "memory_images": n, "test_images": n, "paper_memory_images": memory_job.count,
                          "memory_cap": p["memory_cap"], "memory_name": memory_job.name, "test_name": test_job.name})
        for processes in args.processes:
            spec = work / "readout.json"
            spec.write_text(json.dumps({"jobs": specs}))
            for measured in results_of(launch([__file__, "--child", "readout", "--spec", str(spec)], processes, env,
                                              args.timeout))[0]:
                name = measured.pop("name")
                add(next(j for j in readout if j.name == name), processes, measured)

    return {"command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]), "quick": args.quick,
            "cpu_cores": os.cpu_count(), "machine": platform.machine(), "processor": platform.processor(),
            "python": platform.python_version(), "sizes": {k: list(v) for k, v in p["sizes"].items()},
            "machines": args.machines, "jobs": [asdict(j) for j in jobs], "rows": rows,
            "summary": summarise(jobs, rows, args.machines)}


def summarise(jobs: list[Job], rows: list[dict], machines: int) -> list[dict]:
    """Per job: images/s and hours with each process count, the speed-up of 2 processes, and the hours on
    ``machines`` machines like this one (the job's best rate here, divided except for the main process's
    part of a read-out, as the run with most processes measured it)."""
    out = []
    for job in jobs:
        mine = {r["processes"]: r for r in rows if r["job"] == job.name}
        if not mine:
            continue
        best = max(mine.values(), key=lambda r: r["images_per_s"])
        timed_apart = [r for _, r in sorted(mine.items()) if r.get("main_process_seconds") is not None]
        # seconds an image that more processes do not divide (0 for jobs without a main-process part)
        serial = timed_apart[-1]["main_process_seconds"] / timed_apart[-1]["images"] if timed_apart else 0.0
        parallel = max(1 / best["images_per_s"] - serial, 0.0)
        out.append({"job": job.name, "what": job.what, "paper_count": job.count,
                    "images_per_s": {str(n): r["images_per_s"] for n, r in sorted(mine.items())},
                    "hours": {str(n): r["hours"] for n, r in sorted(mine.items())},
                    "speedup_2": mine[2]["images_per_s"] / mine[1]["images_per_s"] if {1, 2} <= set(mine) else None,
                    "hours_on_machines": job.count * (serial + parallel / machines) / 3600})
    return out


def print_table(result: dict) -> None:
    counts = sorted({r["processes"] for r in result["rows"]})
    sizes = ", ".join(f"{d} {w}x{h}" for d, (w, h) in result["sizes"].items())
    print(f"\n{result['cpu_cores']} CPU cores ({result['processor'] or result['machine']}); synthetic images: {sizes}"
          + (" (--quick: tiny sizes and networks, not the paper's cost)" if result["quick"] else ""))
    head = ["job", "the paper's run", "images"] + [f"img/s, {n} proc" for n in counts] + \
        (["speed-up 2 proc"] if {1, 2} <= set(counts) else []) + [f"hours, {n} proc" for n in counts] + \
        [f"hours on {result['machines']} machines"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for s in result["summary"]:
        cells = [s["job"], s["what"], f"{s['paper_count']:,}"]
        cells += [f"{s['images_per_s'].get(str(n), float('nan')):.3g}" for n in counts]
        if {1, 2} <= set(counts):
            cells.append(f"{s['speedup_2']:.2f}x")
        cells += [f"{s['hours'].get(str(n), float('nan')):.3g}" for n in counts]
        cells.append(f"{s['hours_on_machines']:.3g}")
        print("| " + " | ".join(cells) + " |")
    print("\nLoading hours run beside the training step (its loader), not after it; read-out hours on more "
          "machines keep the main process's part (kNN vote, writing) whole.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--quick", action="store_true",
                        help="tiny images, small networks, few images: checks that every job runs (seconds)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts, one row each")
    parser.add_argument("--images", type=int, default=48,
                        help="COCO and VOC images over-segmented and loaded (Cityscapes: a sixth)")
    parser.add_argument("--readout_images", type=int, default=8,
                        help="VOC images in the memory pass and as many in the test pass (Cityscapes: a quarter)")
    parser.add_argument("--machines", type=int, default=8, help="machines of the 'hours on N machines' column")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS of the measured processes (default: as the programs set it)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one measured command may take")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"), help="JSON output")
    parser.add_argument("--child", choices=("loading", "readout"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.spec).read_text())
        (child_loading if args.child == "loading" else child_readout)(spec)
        return
    if any(n < 1 for n in args.processes) or args.images < 4 or args.readout_images < 1 or args.machines < 1:
        parser.error("--processes >= 1, --images >= 4, --readout_images >= 1, --machines >= 1")
    result = run(args)
    print_table(result)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
