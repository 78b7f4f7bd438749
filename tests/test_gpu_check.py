"""bashscripts/gpu_check.sh, the one prepared run for a first GPU: its CPU dry run (``--device cpu --quick``)
goes through every step and writes one JSON with each step's exit status and figures; a step that fails or
times out is recorded with the tail of its output and does not stop the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_check  # noqa: E402  (benchmarks/ is not a package)

STEPS = ["cuda_tests", "train_step_float32", "train_step_bfloat16", "readout_speed", "camvid_gpu_profile"]


def test_a_failing_or_hanging_step_is_recorded_and_the_next_one_runs(tmp_path):
    failing = gpu_check.Step("fails", ["bash", "-c", "echo some output; echo the reason >&2; exit 3"], 30)
    hanging = gpu_check.Step("hangs", ["bash", "-c", "echo started; sleep 60"], 1)
    unreadable = gpu_check.Step("no_figures", ["true"], 30, lambda _: json.loads((tmp_path / "absent").read_text()))
    records = [gpu_check.run_step(step, tmp_path) for step in (failing, hanging, unreadable)]
    assert records[0]["rc"] == 3 and records[0]["tail"] == "some output\nthe reason\n"
    assert records[1]["rc"] == 124 and records[1]["timed_out"] and records[1]["seconds"] < 30
    assert records[1]["tail"] == "started\n"
    assert records[2]["rc"] == 1 and records[2]["figures_error"].startswith("FileNotFoundError")


@pytest.mark.slow
def test_the_cpu_dry_run_goes_through_every_step_with_its_figures(shared_data, tmp_path):
    if not (shared_data / "CamVid" / "train").is_dir():
        pytest.skip("the launcher step needs ../shared/data/CamVid")
    out = tmp_path / "check.json"
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "HSG_TRACEBACK"}}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS="2")
    done = subprocess.run(["bash", str(ROOT / "bashscripts" / "gpu_check.sh"), "--device", "cpu", "--quick",
                           "--out", str(out), "--work_dir", str(tmp_path / "work"),
                           "--camvid", str(shared_data / "CamVid")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    result = json.loads(out.read_text())
    steps = {s["name"]: s for s in result["steps"]}
    assert list(steps) == STEPS
    assert done.returncode == 0 and result["ok"], {k: (s["rc"], s["tail"][-800:]) for k, s in steps.items()}
    assert result["environment"]["device"] == "cpu" and result["quick"] is True

    assert steps["cuda_tests"]["figures"]["passed"] >= 2 and "failed" not in steps["cuda_tests"]["figures"]
    for dtype in ("float32", "bfloat16"):
        figures = steps[f"train_step_{dtype}"]["figures"]
        assert set(figures) == {"stage1", "stage2"}
        for stage in figures.values():
            assert stage["baseline_s"] > 0 and stage["full_s"] > 0
            assert stage["hsg_share_of_step"] == pytest.approx(1 - stage["baseline_s"] / stage["full_s"])
    speed = steps["readout_speed"]["figures"]["images_per_s"]
    assert len(speed) == 2 and all(v > 0 for v in speed.values())
    camvid = steps["camvid_gpu_profile"]["figures"]
    assert camvid["stage1"]["iterations"] == camvid["stage2"]["iterations"] == 2
    assert camvid["stage1"]["images_per_s"] > 0
    config = (tmp_path / "work" / "camvid" / "stage2" / "config.yaml").read_text()
    assert "backbone_width: 64" in config and "embedding_dim: 128" in config  # PROFILE=gpu was in effect
