"""benchmarks/scale.py, the cost table of the paper's jobs: its ``--quick`` run goes through every job with 1
and 2 processes (pyenv/oversegment.py and torchrun ranks included) and writes rates and hours that agree
with the paper's counts; the projection onto more machines keeps the read-out's main-process part whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import scale  # noqa: E402  (benchmarks/ is not a package)

JOBS = {  # the paper's jobs and their counts: images, or two-view samples (iterations x global batch)
    "oversegmentation coco": 118_287, "oversegmentation voc12": 10_582, "oversegmentation cityscapes": 2_975,
    "loading 224 coco": 350_000 * 128, "loading 448 coco": 20_000 * 48, "loading 448 cityscapes": 38_000 * 32,
    "read-out memory voc12": 10_582, "read-out test voc12": 1_449,
    "read-out memory cityscapes": 2_975, "read-out test cityscapes": 500,
}


def test_the_projection_divides_all_but_the_main_process_part():
    jobs = [scale.Job("read-out test voc12", "readout_test", "voc12", 3600, "VOC val"),
            scale.Job("oversegmentation coco", "oversegmentation", "coco", 7200, "COCO")]
    rows = [  # the read-out: 1 s an image alone, 0.6 s with 2 processes of which 0.2 s on the main process
        {"job": "read-out test voc12", "processes": 1, "images": 10, "images_per_s": 1.0, "hours": 1.0,
         "main_process_seconds": None},
        {"job": "read-out test voc12", "processes": 2, "images": 10, "images_per_s": 1 / 0.6, "hours": 0.6,
         "main_process_seconds": 2.0},
        {"job": "oversegmentation coco", "processes": 1, "images": 4, "images_per_s": 2.0, "hours": 1.0},
        {"job": "oversegmentation coco", "processes": 2, "images": 4, "images_per_s": 1.0, "hours": 2.0}]
    read_out, overseg = scale.summarise(jobs, rows, machines=4)
    assert read_out["speedup_2"] == pytest.approx(1 / 0.6)
    assert read_out["hours_on_machines"] == pytest.approx(3600 * (0.2 + 0.4 / 4) / 3600)
    assert overseg["speedup_2"] == pytest.approx(0.5)  # the faster row (1 process) is the one spread
    assert overseg["hours_on_machines"] == pytest.approx(7200 / (4 * 2.0) / 3600)


def test_synthetic_pictures_have_the_size_and_many_regions():
    picture, labels = scale.synthetic_picture(np.random.default_rng(0), 640, 480, 21)
    assert picture.shape == (480, 640, 3) and picture.dtype == np.uint8 and labels.shape == (480, 640)
    assert labels.max() < 21 and len(np.unique(labels)) > 10 and picture.std() > 20


def test_the_oversegmentation_rate_lines_are_read():
    lines = ("[oversegment] shard 0/2 (rank 0/2): 3 images: 3 written, 0 already done, 0 failed "
             "(at most 48 regions), 1.50 images/s\n[oversegment] 5 images: 5 written, 0 already done, 0 failed "
             "(at most 12 regions), 10.25 images/s\n")
    assert [m.groups() for m in scale.OVERSEG_LINE.finditer(lines)] == [("3", "3", "1.50"), ("5", "5", "10.25")]


@pytest.mark.slow
def test_quick_run_times_every_job_with_one_and_two_processes(tmp_path):
    out = tmp_path / "scale.json"
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    result = json.loads(out.read_text())
    assert result["quick"] is True
    rows = {(r["job"], r["processes"]): r for r in result["rows"]}
    assert set(rows) == {(job, n) for job in JOBS for n in (1, 2)}
    for (job, _), r in rows.items():
        assert r["paper_count"] == JOBS[job] and r["images"] > 0 and r["seconds"] > 0
        assert r["images_per_s"] == pytest.approx(r["images"] / r["seconds"]) and r["images_per_s"] > 0
        assert r["hours"] == pytest.approx(JOBS[job] / r["images_per_s"] / 3600)
    for dataset in ("voc12", "cityscapes"):  # the main process's part of a 2-process read-out is inside its time
        for kind in ("memory", "test"):
            r = rows[(f"read-out {kind} {dataset}", 2)]
            assert 0 < r["main_process_seconds"] < r["seconds"]
    assert rows[("read-out test voc12", 1)]["memory_prototypes"] > rows[("read-out memory voc12", 1)]["images"]
    assert [s["job"] for s in result["summary"]] == list(JOBS)
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| job | the paper's run | images | img/s, 1 proc | img/s, 2 proc | speed-up 2 proc")
    assert [line.split(" | ")[0][2:] for line in table[1:]] == list(JOBS)
