"""Over-segment many images in parallel: read -> edges -> UCM -> threshold rule -> write.

The workers live in this importable module (not in the entry script) because they are started with
``spawn``: forking a process whose PyTorch/OpenMP thread pool has already run can deadlock the children,
which happens as soon as a caller used torch before (a test session, a notebook, a training script).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from dataclasses import dataclass

from tqdm import tqdm

from hsg.data.io import read_image
from hsg.errors import DataError
from hsg.overseg.edges import EdgeDetector, make_detector
from hsg.overseg.ucm import threshold_regions, ucm_from_edges, write_labels, write_ucm


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


def _run(job: Job) -> tuple[str, int]:
    """Over-segment one image. Returns ``(error or "", number of regions)``."""
    assert _DETECTOR is not None and _SETTINGS is not None
    s = _SETTINGS
    try:
        image = read_image(job.image, job.where)
    except DataError as e:
        return str(e), 0
    min_region = _DETECTOR.min_region_fraction if s.min_region is None else s.min_region
    ucm2 = ucm_from_edges(_DETECTOR(image), min_region)
    labels, _ = threshold_regions(ucm2, s.max_regions, s.start, s.step)
    write_labels(job.mask, labels)
    if job.ucm:
        write_ucm(job.ucm, ucm2)
    return "", int(labels.max())


def is_done(job: Job) -> bool:
    """True when every output of the job exists (masks and UCMs are written atomically)."""
    return os.path.isfile(job.mask) and (job.ucm is None or os.path.isfile(job.ucm))


def run_jobs(jobs: list[Job], settings: Settings, workers: int, overwrite: bool = False) -> dict:
    """Process the jobs (in ``workers`` spawned processes when > 1) with a progress bar.

    Jobs whose outputs exist are skipped unless ``overwrite``. An unreadable image is reported on stderr
    and counted, and the others go on. Returns the counts: ``images``, ``written``, ``skipped``,
    ``failed`` (the error messages) and ``max_regions`` (the most regions any written mask has).
    """
    todo = [j for j in jobs if overwrite or not is_done(j)]
    summary = {"images": len(jobs), "written": 0, "skipped": len(jobs) - len(todo), "failed": [], "max_regions": 0}
    if not todo:
        return summary
    bar = tqdm(total=len(todo), desc="oversegment", unit="img", dynamic_ncols=True)

    def record(error: str, regions: int) -> None:
        if error:
            summary["failed"].append(error)
            tqdm.write(f"[oversegment] skipped: {error}", file=sys.stderr)
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
    return summary


__all__ = ["Job", "Settings", "is_done", "run_jobs"]
