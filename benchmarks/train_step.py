"""Cost of one HSG training step, split into the backbone's share and what HSG adds on top of it.

    python benchmarks/train_step.py                        # CPU: 2 images per step, both stages
    python benchmarks/train_step.py --device cuda          # GPU: the original's 16 (stage 1) and 6 (stage 2)
    python benchmarks/train_step.py --settings stage2 --processes 8 --repeats 5

Settings (the original's COCO recipe; ResNet-50, C = 128, output stride 16, train mode):
* ``stage1``: crop 224, k-means grid 1x1, 1 iteration, no hierarchy, img_sim loss only;
* ``stage2``: crop 448, grid 4x4, 15 iterations, hierarchy (node sequences padded to 256), all five
  terms (img_sim, fine and coarse hierarchy, DMoN + collapse, centroid contrast).

A step sees ``--images`` images, that is twice as many interleaved views. The pictures are smooth random
images over-segmented by SLIC (about 40-48 regions, like the original's UCM masks). The two views of an
image are different crops of one canvas, the second one mirrored, so a region id names the same region in
both. The second view has its bottom and right eighth padded (region -1), like a view scaled below the
crop size.

For each setting, after ``--warmup`` untimed rounds and one round that measures memory, the script
alternates the two kinds of step and reports medians over ``--repeats``:
(a) **baseline**: backbone + head forward, then the backward of ``mean(embedding ** 2)``. This counts
    the backbone's own cost and nothing else.
(b) **full step**: the pieces of ``HSGModel.forward`` (embed, k-means segmentation, node sets +
    transformers), called one at a time so that each can be timed, then ``hsg_losses`` and the backward
    of their total. No ``torch.no_grad`` is added. The backward is cut at the embedding: first the
    gradient is taken from the loss down to the embedding (HSG's own backward), then it is pushed through
    the head and backbone. The gradients are the same as with one ``loss.backward()``, and the two parts
    can be timed apart.
The optimiser step and the trainer's logging are left out of both.

The overhead ratio is ``(full - baseline) / baseline``: the time HSG adds to a step, as a share of what
the backbone alone costs. A second ratio adds up HSG's own phases (k-means, grouping, losses, HSG backward) and divides by the baseline. The two agree on
a quiet machine. On a busy one, run-to-run noise in the backbone's seconds lands in the first ratio but
not in the second. ``--processes N`` makes the losses work on the gathered rows of N processes (the
original trained on 8 GPUs), because every pixel is compared with every segment of the global batch.
Phase times come from ``time.perf_counter`` on the CPU. On a GPU they come from CUDA events, with the
device synchronised before each step and after it.

Peak memory is the growth above what was in use at the start of the step, taken in its own untimed
round. Gradients are freed before each step, so they count in the growth. On CUDA it is
``torch.cuda.max_memory_allocated``. On the CPU it is the kernel's peak resident set size of the process
(``VmHWM``), read after glibc's ``malloc_trim`` and a reset through ``/proc/self/clear_refs``; allocator
slack counts too. Where Linux /proc is missing it reads "n/a". The script prints a markdown table and
writes JSON (``--out``).

``--original CHECKOUT`` (CPU, ResNet-50, one process) also times the original's training step from a
checkout of github.com/twke18/HSG (its stage-2 model ``fcn_50_hsg`` when the hierarchy is on, ``fcn_50``
otherwise, with its ``hsg`` losses; run by ``benchmarks/original_code.py train-step`` in a subprocess). Both
sides run the original's initialisation (ours loads it) on the same saved inputs. ``--rounds`` rounds
alternate: the original's ``--warmup`` + ``--repeats`` steps, then ours; each round gives each side's median
CPU seconds (``time.process_time``) of the baseline and of the whole step; the table shows the median over
rounds and HSG's share (whole - baseline).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.segmentation import slic

from hsg.cli.common import parser_texts
from hsg.config.config import Config, get_default_config
from hsg.losses.hsg_loss import GatherFn, hsg_losses, total_loss
from hsg.models.model import HSGModel, ModelOutput, build_model
from hsg.models.weights import load_model_weights

ROOT = Path(__file__).resolve().parents[1]
CPU_IMAGES = 2
LOSS_KEYS = ("img_sim", "fine_hrchy", "coarse_hrchy", "dmon", "centroid_cont")


@dataclass(frozen=True)
class Setting:
    """One training recipe: its crop, its config overrides and the original's per-GPU batch."""

    crop: int
    overrides: dict
    gpu_images: int


SETTINGS = {
    "stage1": Setting(224, {"network.hierarchy": False, "network.kmeans_num_clusters": [1, 1],
                            "network.kmeans_iterations": 1, "train.img_sim_loss_types": "segsort"}, 16),
    "stage2": Setting(448, {"network.hierarchy": True, "network.node_padding": 256,
                            "network.kmeans_num_clusters": [4, 4], "network.kmeans_iterations": 15,
                            "train.img_sim_loss_types": "segsort", "train.fine_hrchy_loss_types": "segsort",
                            "train.coarse_hrchy_loss_types": "segsort", "train.dmon_loss_types": "dmon",
                            "train.centroid_cont_loss_types": "segsort", "train.dmon_knn": 2,
                            "train.dmon_knn_mode": "per_view"}, 6),
}


# ------------------------------------------------------------------------------------------ inputs
def setting_config(setting: Setting, depth: int, crop: int) -> Config:
    """The default config with the setting's overrides, the chosen depth and crop."""
    cfg = get_default_config()
    for key, value in {**setting.overrides, "network.backbone_depth": depth,
                       "train.crop_size": [crop, crop]}.items():
        cfg.set_value(key, value)
    return cfg


def smooth_picture(rng: np.random.Generator, side: int) -> np.ndarray:
    """``[side, side, 3]`` float in [0, 1]: blurred noise, so SLIC finds compact regions of varied shape."""
    sigma = side / 20
    img = ndimage.gaussian_filter(rng.random((side, side, 3)), sigma=(sigma, sigma, 0))
    low, high = img.min(axis=(0, 1)), img.max(axis=(0, 1))
    return (img - low) / np.maximum(high - low, 1e-6)


def make_batch(num_images: int, crop: int, cfg: Config, rng: np.random.Generator, regions: int = 48
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved views ``[2B, 3, S, S]`` (normalised) and their over-segmentation ``[2B, S, S]``."""
    means = np.asarray(cfg.network.pixel_means, np.float32)
    stds = np.asarray(cfg.network.pixel_stds, np.float32)
    canvas = int(round(crop * 1.25))
    pad = crop // 8
    images, masks = [], []
    for _ in range(num_images):
        picture = smooth_picture(rng, canvas).astype(np.float32)
        labels = slic(picture, n_segments=regions, compactness=10, start_label=0, channel_axis=-1)
        for view in (0, 1):
            y, x = rng.integers(0, canvas - crop + 1, size=2)
            img = picture[y:y + crop, x:x + crop].copy()
            region = labels[y:y + crop, x:x + crop].astype(np.int64)
            if view == 1:
                img, region = img[:, ::-1].copy(), region[:, ::-1].copy()
                img[-pad:], img[:, -pad:] = means, means
                region[-pad:], region[:, -pad:] = -1, -1
            images.append(((img - means) / stds).transpose(2, 0, 1))
            masks.append(region)
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks))


def simulated_gather(processes: int) -> GatherFn:
    """``hsg_losses``' gather as rank 0 of ``processes`` processes sees it, each holding a batch like ours.

    The other processes' rows are our rows in shuffled order. Float rows keep their gradient, as the
    real differentiable all-gather's rows do. Integer labels are shifted so that they never equal ours,
    because other processes hold other images. The losses then do the work of a multi-GPU step. The
    communication itself is not simulated.
    """
    def gather(t: torch.Tensor) -> tuple[torch.Tensor, int]:
        if processes == 1 or t.numel() == 0:
            return t, 0
        if t.is_floating_point():
            others = [t[torch.randperm(t.shape[0], device=t.device)] for _ in range(processes - 1)]
        else:
            step = int(t.max()) + 1
            others = [t + k * step for k in range(1, processes)]
        return torch.cat([t, *others]), 0

    return gather


# ------------------------------------------------------------------------------------------ probes
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PhaseTimer:
    """Named phase boundaries: wall-clock stamps on the CPU, CUDA events (no host stall) on a GPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: list[tuple[str, object]] = []

    def mark(self, name: str) -> None:
        """End the current phase (or, named ``start``, begin the first one)."""
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append((name, event))
        else:
            self.marks.append((name, time.perf_counter()))

    def seconds(self) -> dict[str, float]:
        """Duration of each phase, named by the mark that ends it (call after synchronising)."""
        out = {}
        for (_, a), (name, b) in zip(self.marks, self.marks[1:]):
            out[name] = a.elapsed_time(b) / 1e3 if self.cuda else b - a
        return out


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux >= 4.0: VmHWM := VmRSS


def cpu_peak_supported() -> bool:
    """Whether the peak RSS can be reset and read (Linux /proc)."""
    try:
        _reset_peak_rss()
        _proc_status_kib("VmHWM")
        return True
    except (OSError, KeyError):
        return False


def _malloc_trim() -> None:
    """Give freed heap pages back to the kernel, so that the next step's growth is not hidden in them."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def memory_start(device: torch.device, cpu_peak: bool) -> int | None:
    """Reset the peak counter and return the bytes in use now (None if the CPU peak cannot be read)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    if not cpu_peak:
        return None
    _malloc_trim()
    _reset_peak_rss()
    return _proc_status_kib("VmRSS") * 1024


def memory_peak(device: torch.device, cpu_peak: bool) -> int | None:
    """Peak bytes in use since :func:`memory_start`."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return _proc_status_kib("VmHWM") * 1024 if cpu_peak else None


# ------------------------------------------------------------------------------------------ steps
def _embed(model: HSGModel, images: torch.Tensor, amp: bool) -> torch.Tensor:
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        return model.embed(images).float()


def baseline_step(model: HSGModel, images: torch.Tensor, amp: bool, timer: PhaseTimer) -> None:
    """Backbone + head forward, and the backward of a scalar that involves nothing but the embedding."""
    timer.mark("start")
    embedding = _embed(model, images, amp)
    timer.mark("backbone_fwd")
    embedding.pow(2).mean().backward()
    timer.mark("backbone_bwd")


def full_step(model: HSGModel, images: torch.Tensor, oversegmentation: torch.Tensor, cfg: Config, amp: bool,
              gather: GatherFn, timer: PhaseTimer) -> ModelOutput:
    """The training step: ``HSGModel.forward`` piece by piece, the losses, and the backward.

    The backward is cut at the embedding so that HSG's share and the backbone's can be timed apart.
    """
    timer.mark("start")
    embedding = _embed(model, images, amp)
    timer.mark("backbone_fwd")
    leaf = embedding.detach().requires_grad_(True)
    segments = model.segment(leaf, oversegmentation)
    timer.mark("kmeans")
    out = ModelOutput(leaf, segments, model.group(leaf, segments) if model.hierarchy else None)
    timer.mark("grouping")
    loss = total_loss(hsg_losses(out, cfg.train, gather=gather))
    timer.mark("losses")
    loss.backward()
    timer.mark("hsg_bwd")
    embedding.backward(leaf.grad)
    timer.mark("backbone_bwd")
    return out


def timed(run: Callable[[PhaseTimer], object], model: HSGModel, device: torch.device) -> tuple[dict, object]:
    """One step with the gradients freed first: its wall seconds and the seconds of each phase."""
    model.zero_grad(set_to_none=True)
    timer = PhaseTimer(device)
    synchronize(device)
    begin, cpu_begin = time.perf_counter(), time.process_time()
    result = run(timer)
    synchronize(device)
    wall, cpu = time.perf_counter() - begin, time.process_time() - cpu_begin
    return {"total": wall, **timer.seconds(), "cpu_total": cpu}, result


def peak_memory(run: Callable[[PhaseTimer], object], model: HSGModel, device: torch.device, cpu_peak: bool
                ) -> dict:
    """One untimed step with the gradients freed first: peak bytes in use, and their growth over the start.

    Kept out of the timed rounds because releasing the heap before each step (needed on the CPU) would
    make every timed step pay for faulting its memory in again.
    """
    model.zero_grad(set_to_none=True)
    start = memory_start(device, cpu_peak)
    run(PhaseTimer(device))
    synchronize(device)
    peak = memory_peak(device, cpu_peak)
    return {"peak_bytes": peak, "peak_growth_bytes": None if peak is None else peak - start}


HSG_PHASES = ("kmeans", "grouping", "losses", "hsg_bwd")


def summarize(runs: list[dict], memory: dict) -> dict:
    """Median of every timed field (seconds), the memory figures, and the raw runs."""
    out: dict = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    if "hsg_bwd" in runs[0]:
        out["hsg_phases"] = statistics.median(sum(r[k] for k in HSG_PHASES) for r in runs)
    return {**out, **memory, "runs": runs}


def segment_stats(out: ModelOutput, num_images: int) -> dict:
    """How much clustering work the inputs gave (regions and segments per view, nodes per image)."""
    views = 2 * num_images
    pairs = torch.stack([out.segments.view, out.segments.region], dim=1)
    stats = {"regions_per_view": round(torch.unique(pairs, dim=0).shape[0] / views, 1),
             "segments_per_view": round(out.segments.count / views, 1)}
    if out.hierarchy is not None:
        mask = out.hierarchy.nodes.padding_mask
        stats["max_nodes_per_image"] = int((~mask).sum(dim=1).max())
        stats["padded_length"] = int(mask.shape[1])
    return stats


def run_setting(name: str, args: argparse.Namespace, device: torch.device, cpu_peak: bool) -> dict:
    """Build one setting's model and inputs; time baseline and full steps, alternating."""
    setting = SETTINGS[name]
    crop = args.crop or setting.crop
    num_images = args.images or (setting.gpu_images if device.type == "cuda" else CPU_IMAGES)
    cfg = setting_config(setting, args.depth, crop)
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(device).train()
    images, region = make_batch(num_images, crop, cfg, np.random.default_rng(args.seed))
    images, region = images.to(device), region.to(device)
    gather = simulated_gather(args.processes)

    def base(timer: PhaseTimer) -> None:
        baseline_step(model, images, args.amp, timer)

    def full(timer: PhaseTimer) -> dict[str, torch.Tensor]:
        return full_step(model, images, region, cfg, args.amp, gather, timer)

    for _ in range(args.warmup):
        timed(base, model, device)
        timed(full, model, device)
    memory = {"base": peak_memory(base, model, device, cpu_peak), "full": peak_memory(full, model, device, cpu_peak)}
    base_runs, full_runs = [], []
    for i in range(args.repeats):
        base_runs.append(timed(base, model, device)[0])
        record, out = timed(full, model, device)
        full_runs.append(record)
        print(f"[{name}] round {i + 1}/{args.repeats}: baseline {base_runs[-1]['total']:.3f} s, "
              f"full {record['total']:.3f} s", file=sys.stderr, flush=True)
    a, b = summarize(base_runs, memory["base"]), summarize(full_runs, memory["full"])
    return {
        "images": num_images, "views": 2 * num_images, "processes": args.processes, "crop": crop,
        "embedding_size": list(out.embedding.shape[-2:]),
        "kmeans_grid": list(cfg.network.kmeans_num_clusters), "kmeans_iterations": cfg.network.kmeans_iterations,
        "hierarchy": cfg.network.hierarchy, **segment_stats(out, num_images),
        "losses": [k for k in LOSS_KEYS if cfg.train[f"{k}_loss_types"] != "none"],
        "baseline": a, "full": b,
        "extra_backward": b["hsg_bwd"] + b["backbone_bwd"] - a["backbone_bwd"],
        "overhead": b["total"] - a["total"],
        "overhead_ratio": (b["total"] - a["total"]) / a["total"],
        "hsg_phases_ratio": b["hsg_phases"] / a["total"],
    }


# ------------------------------------------------------------------------------------------ the original
ORIGINAL_RUNNER = ROOT / "benchmarks" / "original_code.py"
ORIGINAL_LABEL_DIVISOR = 2048  # bashscripts/coco/train.sh
ORIGINAL_LOSS_TERMS = ("img_sim", "fine_hrchy", "coarse_hrchy", "centroid_cont")


def original_settings(cfg: Config) -> dict:
    """The original's config (dotted keys) for the same step: its stage-2 model (``fcn_50_hsg``) when the
    hierarchy is on, its stage-1 model (``fcn_50``) otherwise, with our k-means and loss settings."""
    net, train = cfg.network, cfg.train
    settings = {"network.backbone_types": "fcn_50_hsg" if net.hierarchy else "fcn_50",
                "network.embedding_dim": int(net.embedding_dim), "network.label_divisor": ORIGINAL_LABEL_DIVISOR,
                "network.kmeans_iterations": int(net.kmeans_iterations),
                "network.kmeans_num_clusters": [int(k) for k in net.kmeans_num_clusters],
                "dataset.semantic_ignore_index": 255, "dataset.num_classes": 21,
                "train.dmon_loss_types": train.dmon_loss_types, "train.dmon_loss_weight": float(train.dmon_loss_weight),
                "train.dmon_knn": int(train.dmon_knn), "train.fine_hrchy_clusters": int(train.fine_hrchy_clusters),
                "train.coarse_hrchy_clusters": int(train.coarse_hrchy_clusters)}
    for term in ORIGINAL_LOSS_TERMS:
        settings[f"train.{term}_loss_types"] = train[f"{term}_loss_types"]
        settings[f"train.{term}_concentration"] = float(train[f"{term}_concentration"])
        settings[f"train.{term}_loss_weight"] = float(train[f"{term}_loss_weight"])
    return settings


def run_original(checkout: str, *options: str) -> None:
    """``benchmarks/original_code.py train-step CHECKOUT ...`` in a subprocess (the original's package is
    also called ``hsg``); its error message ends this script."""
    done = subprocess.run([sys.executable, str(ORIGINAL_RUNNER), "train-step", checkout, *options],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"--original {checkout}: the original's training step failed:\n{done.stderr[-3000:]}")


def compare_with_original(name: str, args: argparse.Namespace, device: torch.device) -> dict:
    """Alternating rounds of the original's training step (a subprocess) and ours, on the same weights (the
    original's initialisation, loaded by ours) and the same inputs: per round, each side's median CPU
    seconds (``time.process_time``) of its baseline step and of its whole step."""
    setting = SETTINGS[name]
    crop = args.crop or setting.crop
    num_images = args.images or CPU_IMAGES
    cfg = setting_config(setting, args.depth, crop)
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(device).train()
    images, region = make_batch(num_images, crop, cfg, np.random.default_rng(args.seed))
    gather = simulated_gather(args.processes)
    threads = str(torch.get_num_threads())
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="hsg_train_step_") as tmp:
        inputs, init = Path(tmp) / "inputs.pt", Path(tmp) / "init.pth"
        torch.save({"images": images, "oversegmentation": region, "config": original_settings(cfg)}, inputs)
        run_original(args.original, str(inputs), "--save-init", str(init), "--seed", str(args.seed))
        load_model_weights(model, init)

        def base(timer: PhaseTimer) -> None:
            baseline_step(model, images, False, timer)

        def full(timer: PhaseTimer) -> ModelOutput:
            return full_step(model, images, region, cfg, False, gather, timer)

        for index in range(args.rounds):
            report = Path(tmp) / f"original_{index}.json"
            run_original(args.original, str(inputs), "--init", str(init), "--steps", str(args.repeats),
                         "--warmup", str(args.warmup), "--threads", threads, "--out", str(report))
            theirs = json.loads(report.read_text())
            ours_base, ours_full = [], []
            for step in range(args.warmup + args.repeats):
                record_base = timed(base, model, device)[0]
                record_full, out = timed(full, model, device)
                if step >= args.warmup:
                    ours_base.append(record_base["cpu_total"])
                    ours_full.append(record_full["cpu_total"])
            rounds.append({"original": {"baseline": statistics.median(theirs["baseline_cpu_s"]),
                                        "whole": statistics.median(theirs["whole_cpu_s"]),
                                        "losses": theirs["losses"], "embedding_size": theirs["embedding_size"]},
                           "ours": {"baseline": statistics.median(ours_base), "whole": statistics.median(ours_full)}})
            print(f"[{name} vs original] round {index + 1}/{args.rounds}: original baseline "
                  f"{rounds[-1]['original']['baseline']:.3f} s, whole {rounds[-1]['original']['whole']:.3f} s; "
                  f"ours baseline {rounds[-1]['ours']['baseline']:.3f} s, whole {rounds[-1]['ours']['whole']:.3f} s",
                  file=sys.stderr, flush=True)
    sides = {}
    for side in ("original", "ours"):
        baseline = statistics.median(r[side]["baseline"] for r in rounds)
        whole = statistics.median(r[side]["whole"] for r in rounds)
        sides[side] = {"baseline": baseline, "whole": whole,
                       "hsg": statistics.median(r[side]["whole"] - r[side]["baseline"] for r in rounds)}
    return {"model": original_settings(cfg)["network.backbone_types"], "images": num_images, "crop": crop,
            "embedding_size": {"original": rounds[-1]["original"]["embedding_size"],
                               "ours": list(out.embedding.shape[-2:])},
            "rounds_run": args.rounds, "steps_per_round": args.repeats, "clock": "time.process_time (CPU s)",
            **sides, "ours_over_original": {k: sides["ours"][k] / sides["original"][k] for k in sides["ours"]},
            "original_losses_last_step": rounds[-1]["original"]["losses"], "rounds": rounds}


def original_table(comparison: dict[str, dict]) -> str:
    """The original's step beside ours: median over the rounds of each round's median CPU seconds."""
    lines = ["| CPU s per step (median of rounds) | " + " | ".join(
        f"{name}: original | {name}: ours | ours / original" for name in comparison) + " |",
        "|---|" + "---:|---:|---:|" * len(comparison)]
    for label, key in (("backbone+head step (baseline)", "baseline"), ("whole training step", "whole"),
                       ("HSG's share (whole - baseline)", "hsg")):
        cells = []
        for x in comparison.values():
            cells += [_ms(x["original"][key]), _ms(x["ours"][key]), f"{x['ours_over_original'][key]:.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ report
def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if abs(seconds) >= 0.0095 else f"{seconds * 1e3:.1f} ms"


def _mib(num_bytes: int | None) -> str:
    return "n/a" if num_bytes is None else f"{num_bytes / 2 ** 20:,.0f} MiB"


def markdown_table(results: dict[str, dict], device: torch.device) -> str:
    """Quantities as rows, settings as columns."""
    r = list(results.values())
    memory = "peak GPU memory growth" if device.type == "cuda" else "peak RSS growth"
    rows: list[tuple[str, list[str]]] = [
        ("images (views) per step", [f"{x['images']} ({x['views']})" for x in r]),
        ("processes simulated in the losses", [str(x["processes"]) for x in r]),
        ("crop -> embedding map", [f"{x['crop']} -> {x['embedding_size'][0]}x{x['embedding_size'][1]}" for x in r]),
        ("k-means grid, iterations", [f"{x['kmeans_grid'][0]}x{x['kmeans_grid'][1]}, {x['kmeans_iterations']}"
                                      for x in r]),
        ("regions / segments per view", [f"{x['regions_per_view']} / {x['segments_per_view']}" for x in r]),
        ("nodes per image (max) / padded", [f"{x['max_nodes_per_image']} / {x['padded_length']}"
                                            if "padded_length" in x else "-" for x in r]),
        ("losses", [", ".join(x["losses"]) for x in r]),
        ("**(a) baseline: backbone+head fwd+bwd**", [f"**{_ms(x['baseline']['total'])}**" for x in r]),
        ("- forward", [_ms(x["baseline"]["backbone_fwd"]) for x in r]),
        ("- backward", [_ms(x["baseline"]["backbone_bwd"]) for x in r]),
        ("**(b) full step**", [f"**{_ms(x['full']['total'])}**" for x in r]),
        ("- backbone+head forward", [_ms(x["full"]["backbone_fwd"]) for x in r]),
        ("- k-means segmentation", [_ms(x["full"]["kmeans"]) for x in r]),
        ("- grouping (node sets, transformers)", [_ms(x["full"]["grouping"]) if x["hierarchy"] else "-"
                                                  for x in r]),
        ("- losses forward", [_ms(x["full"]["losses"]) for x in r]),
        ("- HSG backward (loss -> embedding)", [_ms(x["full"]["hsg_bwd"]) for x in r]),
        ("- backbone+head backward", [_ms(x["full"]["backbone_bwd"]) for x in r]),
        ("extra backward (b's backward - a's)", [_ms(x["extra_backward"]) for x in r]),
        ("HSG overhead b - a", [_ms(x["overhead"]) for x in r]),
        ("**overhead ratio (b - a) / a**", [f"**{100 * x['overhead_ratio']:.1f}%**" for x in r]),
        ("HSG's own phases (k-means + grouping + losses + HSG backward) / a",
         [f"{_ms(x['full']['hsg_phases'])} = {100 * x['hsg_phases_ratio']:.1f}%" for x in r]),
        (f"{memory}: (a) baseline", [_mib(x["baseline"]["peak_growth_bytes"]) for x in r]),
        (f"{memory}: (b) full step", [_mib(x["full"]["peak_growth_bytes"]) for x in r]),
    ]
    lines = ["| | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines)


def machine_description(device: torch.device) -> dict:
    """What the numbers were measured on."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
    return {"device": str(device), "name": name, "cpu_cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}


def _load_original_runner():
    """``benchmarks/original_code.py`` as a module (for its checkout check; it never imports the original
    here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hsg_original_code_runner", ORIGINAL_RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device to time on")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS),
                        help="which stage settings to time")
    parser.add_argument("--images", type=int, default=0,
                        help=f"images per step (0: {CPU_IMAGES} on the CPU, the original's per-GPU batch on CUDA)")
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50, 101), help="ResNet depth of the backbone")
    parser.add_argument("--crop", type=int, default=0, help="square crop side (0: the setting's own)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (medians are reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--processes", type=int, default=1,
                        help="the losses work on the gathered rows of this many processes (the original ran 8)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast for backbone and head")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic batch and of the weights")
    parser.add_argument("--original", default=None, metavar="CHECKOUT",
                        help="also time the original's training step from this checkout of github.com/twke18/HSG "
                             "(CPU, ResNet-50, one process), in rounds alternating with ours")
    parser.add_argument("--rounds", type=int, default=5,
                        help="with --original: alternating rounds (each: --warmup + --repeats steps per side)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default benchmarks/results/train_step_<device type>.json)")
    args = parser.parse_args(argv)
    for key, low in (("images", 0), ("crop", 0), ("repeats", 1), ("warmup", 0), ("processes", 1),
                     ("threads", 0)):
        if getattr(args, key) < low:
            parser.error(f"--{key} must be >= {low}")
    if args.images == 1:
        parser.error("--images must be at least 2: the stage-2 transformers batch-normalise over the images")
    if args.original is not None:
        if args.depth != 50 or args.amp or args.processes != 1 or args.device != "cpu" or args.rounds < 1:
            parser.error("--original: the original's step runs ResNet-50 on the CPU in float32, one process "
                         "(--depth 50, no --amp, --processes 1, --device cpu, --rounds >= 1)")
        try:
            _load_original_runner().check_checkout(args.original)
        except RuntimeError as e:
            parser.error(f"--original {e}")
    if args.crop and args.crop < 32:
        parser.error("--crop must be at least 32, so that the embedding map holds a few pixels")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu_peak = device.type == "cpu" and cpu_peak_supported()
    machine = machine_description(device)
    load_before = os.getloadavg()[0]
    results = {name: run_setting(name, args, device, cpu_peak) for name in args.settings}
    comparison = ({name: compare_with_original(name, args, device) for name in args.settings}
                  if args.original else {})
    machine["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]

    print(f"device: {machine['name']} ({machine['device']}, {machine['cpu_cores']} cores, {machine['threads']} "
          f"torch threads), torch {machine['torch']}, ResNet-{args.depth}, amp={args.amp}; median of "
          f"{args.repeats} after {args.warmup} warm-up round(s); 1-min load average {load_before:.2f} before, "
          f"{machine['load_average_1min'][1]:.2f} after\n")
    print(markdown_table(results, device))
    if comparison:
        print(f"\nThe original's training step ({args.original}) beside ours: same weights (the original's "
              f"initialisation), same inputs; {args.rounds} alternating rounds of {args.warmup} + {args.repeats} "
              f"steps per side, CPU seconds (time.process_time)\n")
        print(original_table(comparison))
    out = args.out or ROOT / "benchmarks" / "results" / f"train_step_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {**machine, "depth": args.depth, "amp": args.amp, "repeats": args.repeats, "warmup": args.warmup,
            "seed": args.seed, "command": " ".join(["python", "benchmarks/train_step.py", *argv]),
            "memory": "torch.cuda.max_memory_allocated growth" if device.type == "cuda"
            else ("VmHWM growth (peak RSS, reset via /proc/self/clear_refs)" if cpu_peak else "unavailable")}
    document = {"meta": meta, "settings": results}
    if comparison:
        document["original"] = {"checkout": str(Path(args.original).resolve()), "settings": comparison}
    out.write_text(json.dumps(document, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
