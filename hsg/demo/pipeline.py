"""The end-to-end demo: generated data -> over-segmentation -> stage 1 -> stage 2 -> read-outs of every
checkpoint (labelled-memory kNN vote and label-free k-means) -> learning curve -> hierarchy pictures,
beside the same read-outs of the untrained network.

Everything runs in this one process on the CPU (or the GPU if there is one) in a few minutes, through the
same library functions that the entry scripts call, so it exercises the real pipeline end to end.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hsg.config.config import Config, load_config
from hsg.data.datasets import EvalDataset
from hsg.data.lists import read_list, write_list
from hsg.demo.synthetic import SyntheticSpec, write_dataset
from hsg.device import select_device
from hsg.models.weights import checkpoint_iteration, list_checkpoints
from hsg.engine.trainer import train
from hsg.errors import DataError
from hsg.files import write_json, write_text
from hsg.inference.hierarchy import hierarchy_pictures
from hsg.inference.load import load_model
from hsg.inference.readout import run_readouts
from hsg.inference.segmenter import NetworkSegmenter
from hsg.oversegmentation.batch import Settings, list_jobs, run_jobs
from hsg.oversegmentation.ucm import START_THRESHOLD, THRESHOLD_STEP
from hsg.vis.curves import plot_learning_curves


@dataclass
class DemoSize:
    """How big the demo is: the full demo, or a reduced one for the test suite."""

    spec: SyntheticSpec = field(default_factory=SyntheticSpec)
    stage1_iterations: int = 600
    stage2_iterations: int = 150
    hierarchy_images: int = 4
    curve_points: int = 4  # stage-1 checkpoints read out for the learning curve


QUICK = DemoSize(SyntheticSpec(num_train=16, num_val=4, size=64), 4, 3, 1, 2)
READOUTS = ("knn", "cluster")


def _config(name: str, overrides: list[str]) -> Config:
    return load_config(name, overrides)  # a preset by name: the repository's configs/, or the installed copy


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

    common = [f"dataset.data_dir={data}", "train.resume=false", "train.overwrite=true"]
    every = max(1, size.stage1_iterations // size.curve_points)
    cfg1 = _config("demo_stage1.yaml", common + [f"train.max_iteration={size.stage1_iterations}",
                                                 f"train.snapshot_step={every}"])
    stage1 = train(cfg1, out / "stage1", str(data), str(lists["train"]))
    t = lap("train stage 1", t)
    cfg2 = _config("demo_stage2.yaml", common + [f"train.max_iteration={size.stage2_iterations}",
                                                 f"train.snapshot_step={size.stage2_iterations}",
                                                 f"network.pretrained={stage1}"])
    stage2 = train(cfg2, out / "stage2", str(data), str(lists["train"]))
    t = lap("train stage 2", t)

    # Every checkpoint and the untrained network, read out the same way (labelled memory from the train
    # split, predictions of the val split): the protocol's kNN vote and the label-free read-out.
    device = select_device(cfg2.device)

    def read_out(checkpoint: Path | None, name: str) -> dict:
        segmenter = NetworkSegmenter(cfg2, load_model(cfg2, checkpoint, device), device)
        return run_readouts(cfg2, segmenter, str(data), str(lists["val"]), out / "readout" / name, READOUTS,
                            memory_list=str(lists["train"]), device=device)

    untrained = read_out(None, "untrained")
    points = {}
    for run, offset in ((out / "stage1", 0), (out / "stage2", size.stage1_iterations)):
        for checkpoint in list_checkpoints(run):
            iteration = offset + checkpoint_iteration(checkpoint)
            points[iteration] = read_out(checkpoint, f"{run.name}_{checkpoint_iteration(checkpoint)}")
    write_json(out / "readout" / "curve.json", {"points": points, "baselines": {"untrained network": untrained}})
    plot_learning_curves({i: {r: s["miou"] for r, s in p.items()} for i, p in points.items()},
                         {"untrained network": {r: s["miou"] for r, s in untrained.items()}},
                         out / "readout" / "curve.png", "demo: mIoU on the generated val split",
                         starts={"stage 2": size.stage1_iterations})
    t = lap("read-outs", t)

    model = load_model(cfg2, stage2, device, need_hierarchy=True)
    pictures = out / "pictures"
    val_list = data / "val_hierarchy.txt"
    write_text(val_list, "".join(lists["val"].read_text().splitlines(keepends=True)[: size.hierarchy_images]))
    hierarchy_pictures(cfg2, model, EvalDataset(cfg2, str(data), str(val_list), with_oversegmentation=True),
                       pictures, device)
    lap("hierarchy pictures", t)

    rows = {"untrained": untrained, "stage 1": points[size.stage1_iterations],
            "stage 2": points[size.stage1_iterations + size.stage2_iterations]}
    summary = {
        "miou": {k: {r: round(s["miou"], 2) for r, s in v.items()} for k, v in rows.items()},
        "pixel_acc": {k: round(v["knn"]["pixel_acc"], 2) for k, v in rows.items()},
        "per_class_iou": {k: v["knn"]["per_class_iou"] for k, v in rows.items()},
        "timings_s": timings,
        "total_s": round(time.perf_counter() - start, 1),
        "outputs": {"stage1": str(stage1), "stage2": str(stage2), "config2": str(out / "stage2" / "config.yaml"),
                    "pictures": str(pictures / "hierarchy" / "figure"), "curve": str(out / "readout" / "curve.png"),
                    "predictions": str(out / "readout" / f"stage2_{size.stage2_iterations}" / "test" / "semantic_color")},
    }
    write_json(out / "results.json", summary)
    return summary


def format_summary(summary: dict) -> str:
    """The demo's final table (markdown)."""
    lines = ["| model | kNN vote mIoU % (the protocol) | label-free mIoU % | pixel acc % |", "|---|---:|---:|---:|"]
    for k, v in summary["miou"].items():
        lines.append(f"| {k} | {v['knn']:.2f} | {v['cluster']:.2f} | {summary['pixel_acc'][k]:.2f} |")
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in summary["timings_s"].items())
    lines.append(f"\ntotal {summary['total_s']:.0f} s ({steps})")
    return "\n".join(lines)
