"""The end-to-end demo: generated data -> over-segmentation -> stage 1 -> stage 2 -> prototypes ->
inference -> mIoU -> pictures, and the same read-out with the untrained network for comparison.

Everything runs in this one process on the CPU (or the GPU if there is one) in a few minutes, through the
same library functions that the entry scripts call, so it exercises the real pipeline end to end.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hsg.config.config import Config, load_config
from hsg.data.catalogue import SYNTHETIC_CLASSES
from hsg.data.lists import read_list, write_list
from hsg.demo.synthetic import SyntheticSpec, write_dataset
from hsg.engine.trainer import train
from hsg.evaluation.pairs import pair_by_folder
from hsg.evaluation.report import evaluate_pairing
from hsg.errors import DataError
from hsg.files import write_json
from hsg.oversegmentation.batch import Settings, list_jobs, run_jobs
from hsg.oversegmentation.ucm import START_THRESHOLD, THRESHOLD_STEP
from hsg.engine.distributed import select_device
from hsg.inference.runner import build_prototypes, hierarchy_pictures, load_model, predict

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoSize:
    """How big the demo is: the full demo, or a reduced one for the test suite."""

    spec: SyntheticSpec = field(default_factory=SyntheticSpec)
    stage1_iterations: int = 600
    stage2_iterations: int = 150
    hierarchy_images: int = 4


QUICK = DemoSize(SyntheticSpec(num_train=16, num_val=4, size=64), 4, 3, 1)


def _config(name: str, overrides: list[str]) -> Config:
    return load_config(ROOT / "configs" / name, overrides)


def oversegment(data: Path, data_list: Path, max_regions: int) -> Path:
    """Over-segment the list's images (as ``pyenv/oversegment.py`` does) into ``data/oversegmentation`` and
    return a three-column list that names the masks."""
    jobs = list_jobs(str(data), str(data_list), "synthetic", None, None)
    settings = Settings("gradient", None, "cpu", None, max_regions, START_THRESHOLD, THRESHOLD_STEP, threads=1)
    summary = run_jobs(jobs, settings, workers=min(2, os.cpu_count() or 1))
    if summary["failed"]:
        raise DataError(data_list, f"{len(summary['failed'])} image(s) could not be over-segmented: "
                                   f"{summary['failed'][0]}")
    rows = [(str(Path(sample.image).relative_to(data)), str(Path(sample.semantic_label).relative_to(data)),
             str(Path(job.mask).relative_to(data)))
            for sample, job in zip(read_list(data_list, data, require=("image", "semantic_label")), jobs)]
    out = data_list.with_name(data_list.stem + "_oversegmented.txt")
    write_list(out, rows)
    return out


def _evaluate(cfg: Config, model, label: str, data: Path, lists: dict[str, Path], out: Path,
              device: torch.device) -> dict:
    """Prototypes from the labelled train split, kNN inference on val, mIoU."""
    results = out / "results" / label
    build_prototypes(cfg, model, str(data), str(lists["train"]), results / "train", device)
    predict(cfg, model, str(data), str(lists["val"]), results / "train" / "semantic_prototype",
            results / "val", device)
    report = evaluate_pairing(pair_by_folder(results / "val" / "semantic_gray", data / "labels" / "val"),
                              num_classes=len(SYNTHETIC_CLASSES), class_names="none", workers=2)
    write_json(results / "eval.json", report)
    return report


def run_demo(out_dir: str | Path, size: DemoSize = DemoSize()) -> dict:
    """Run the whole demo under ``out_dir`` and return its results (also written to ``results.json``)."""
    out = Path(out_dir)
    start = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 1)
        return now

    t = time.perf_counter()
    data = out / "data"
    lists = write_dataset(data, size.spec)
    t = lap("generate data", t)
    for split in ("train", "val"):
        lists[split] = oversegment(data, lists[split], max_regions=24)
    t = lap("over-segment", t)

    common = [f"dataset.data_dir={data}", "train.resume=false"]
    cfg1 = _config("demo_stage1.yaml", common + [f"train.max_iteration={size.stage1_iterations}",
                                                 f"train.snapshot_step={size.stage1_iterations}"])
    stage1 = train(cfg1, out / "stage1", str(data), str(lists["train"]))
    t = lap("train stage 1", t)
    cfg2 = _config("demo_stage2.yaml", common + [f"train.max_iteration={size.stage2_iterations}",
                                                 f"train.snapshot_step={size.stage2_iterations}",
                                                 f"network.pretrained={stage1}"])
    stage2 = train(cfg2, out / "stage2", str(data), str(lists["train"]))
    t = lap("train stage 2", t)

    device = select_device(cfg2.device)
    rows = {}
    for label, cfg, checkpoint in (("untrained", cfg2, None), ("stage 1", cfg1, stage1), ("stage 2", cfg2, stage2)):
        model = load_model(cfg, checkpoint, device)
        rows[label] = _evaluate(cfg, model, label.replace(" ", ""), data, lists, out, device)
        t = lap(f"evaluate {label}", t)
    model = load_model(cfg2, stage2, device)
    pictures = out / "pictures"
    val_list = data / "val_hierarchy.txt"
    val_list.write_text("".join(lists["val"].read_text().splitlines(keepends=True)[: size.hierarchy_images]))
    hierarchy_pictures(cfg2, model, str(data), str(val_list), pictures, device, with_oversegmentation=True)
    lap("hierarchy pictures", t)

    summary = {
        "miou": {k: round(v["miou"], 2) for k, v in rows.items()},
        "pixel_acc": {k: round(v["pixel_acc"], 2) for k, v in rows.items()},
        "per_class_iou": {k: {SYNTHETIC_CLASSES[r["id"]]: round(r["iou"], 1) for r in v["per_class"]}
                          for k, v in rows.items()},
        "timings_s": timings,
        "total_s": round(time.perf_counter() - start, 1),
        "outputs": {"stage1": str(stage1), "stage2": str(stage2), "pictures": str(pictures / "hierarchy" / "figure"),
                    "predictions": str(out / "results" / "stage2" / "val" / "semantic_color")},
    }
    write_json(out / "results.json", summary)
    return summary


def format_summary(summary: dict) -> str:
    """The demo's final table (markdown)."""
    lines = ["| model | mIoU % | pixel acc % |", "|---|---:|---:|"]
    for k, v in summary["miou"].items():
        lines.append(f"| {k} | {v:.2f} | {summary['pixel_acc'][k]:.2f} |")
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in summary["timings_s"].items())
    lines.append(f"\ntotal {summary['total_s']:.0f} s ({steps})")
    return "\n".join(lines)
