"""Everything a first GPU should be asked, in one prepared run that fits in 8 minutes and writes one JSON.

    bash bashscripts/gpu_check.sh [--out benchmarks/results/gpu_check.json]    # on one GPU, < 8 min
    bash bashscripts/gpu_check.sh --device cpu --quick --out /tmp/check.json   # CPU dry run at tiny sizes

A device machine is lent for minutes, so the questions are prepared here and asked in one go:

1. ``cuda_tests``: the suite's GPU cases (``tests/test_cuda.py``: a float32 step equal to the CPU's, a
   bfloat16 step finite and near it, a run trained on the device that resumes and loads on the CPU);
2. ``train_step_float32`` / ``train_step_bfloat16``: ``benchmarks/train_step.py`` at the stage-1 and
   stage-2 settings (ResNet-50, the original's per-GPU batch), the whole step beside the backbone alone,
   so HSG's share of a step is measured;
3. ``readout_speed``: ``benchmarks/inference_speed.py`` (ResNet-50, 512², a 380k-prototype memory): the
   read-out's images/s, the original's way and ours;
4. ``camvid_gpu_profile``: the CamVid launcher's ``PROFILE=gpu`` for a few hundred iterations of each stage
   (lists, over-segmentation, both trainings; no read-outs), images/s and seconds per stage.

Every step runs in its own process with its own timeout; a failure or a timeout is recorded in the JSON
(step name, exit status, the tail of its output) and the next step runs. The JSON is rewritten after every
step, so a run killed half-way still leaves what it measured. ``--quick`` runs the same steps at tiny sizes
(a ResNet-18, a few small images, two iterations), which is what the CPU dry run in the tests checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
TAIL = 2000  # characters of a step's output kept in the JSON


@dataclass
class Step:
    """One question: a command, its time limit, and how to read its figures from what it wrote."""

    name: str
    command: list[str]
    timeout_s: int
    figures: Callable[[str], dict] = lambda output: {}  # from the step's output and the files it wrote
    env: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ figures
def _pytest_counts(output: str) -> dict:
    """passed/failed/skipped/error counts from pytest's last summary line."""
    counts = {}
    for number, what in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", output[-2000:]):
        counts["errors" if what.startswith("error") else what] = int(number)
    return counts


def _train_step_figures(path: Path) -> dict:
    """Per setting: seconds of the backbone-alone step and of the whole step, HSG's share of the step."""
    settings = json.loads(path.read_text())["settings"]
    out = {}
    for name, r in settings.items():
        out[name] = {"images": r["images"], "crop": r["crop"],
                     "baseline_s": r["baseline"]["total"], "full_s": r["full"]["total"],
                     "hsg_overhead_ratio": r["overhead_ratio"], "hsg_phases_ratio": r["hsg_phases_ratio"],
                     "hsg_share_of_step": (r["full"]["total"] - r["baseline"]["total"]) / r["full"]["total"],
                     "peak_memory_bytes": r["full"].get("peak_growth_bytes")}
    return out


def _readout_figures(path: Path) -> dict:
    result = json.loads(path.read_text())
    return {"image_size": result["image_size"], "depth": result["depth"], "memory": result["memory"],
            "images_per_s": {row["method"]: row["images_per_s"] for row in result["rows"]}}


def _camvid_figures(out: Path) -> dict:
    """Per stage: the last iteration, the median images/s of the logged iterations, the seconds they took."""
    figures = {}
    for stage in ("stage1", "stage2"):
        log = out / stage / "log.jsonl"
        if not log.is_file():
            continue
        records = [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]
        if not records:
            continue
        rates = [r["images_per_s"] for r in records if r.get("images_per_s")]
        figures[stage] = {"iterations": records[-1]["iteration"],
                          "images_per_s": statistics.median(rates) if rates else None,
                          "seconds": records[-1]["time"] - records[0]["time"] if len(records) > 1 else None}
    return figures


def _camvid_subset(source: Path, target: Path, count: int) -> Path:
    """A CamVid folder with the first ``count`` images of train and val (links to the originals, with their
    annotations), so that the launcher's over-segmentation fits the dry run's time."""
    for split in ("train", "val"):
        images = sorted(p for p in (source / split).iterdir() if not p.name.startswith("."))[:count]
        for folder, files in ((split, images), (f"{split}annot", [source / f"{split}annot" / p.name for p in images])):
            (target / folder).mkdir(parents=True, exist_ok=True)
            for f in files:
                link = target / folder / f.name
                if not link.exists():
                    link.symlink_to(f.resolve())
    return target


# ------------------------------------------------------------------------------------------ steps
def build_steps(args: argparse.Namespace, work: Path) -> list[Step]:
    """The questions, at the GPU's sizes or (``--quick``) at tiny ones. On the GPU the timeouts add up to
    under 8 minutes (90 + 60 + 60 + 60 + 200 s); the dry run's are looser, for a busy 2-core machine."""
    py, quick, device = args.python, args.quick, args.device
    steps = []

    def limit(gpu: int) -> int:
        return 4 * gpu if quick else gpu

    tests = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_cuda.py")]
    if quick:
        tests += ["-k", "stage1"]
    steps.append(Step("cuda_tests", tests, limit(90), _pytest_counts, env={"HSG_TEST_DEVICE": device}))

    for dtype, amp in (("float32", []), ("bfloat16", ["--amp"])):
        out = work / f"train_step_{dtype}.json"
        command = [py, str(ROOT / "benchmarks" / "train_step.py"), "--device", device, "--out", str(out), *amp]
        command += (["--depth", "18", "--crop", "64", "--images", "2", "--repeats", "1", "--warmup", "0"]
                    if quick else ["--repeats", "3", "--warmup", "2"])
        steps.append(Step(f"train_step_{dtype}", command, limit(60), lambda _, out=out: _train_step_figures(out)))

    out = work / "inference_speed.json"
    command = [py, str(ROOT / "benchmarks" / "inference_speed.py"), "--device", device, "--out", str(out)]
    command += (["--depth", "18", "--image_size", "96", "--images", "2", "--batch_sizes", "2", "--memory", "2000"]
                if quick else ["--images", "16", "--batch_sizes", "1", "8"])
    steps.append(Step("readout_speed", command, limit(60), lambda _, out=out: _readout_figures(out)))

    camvid = Path(args.camvid)
    if args.camvid_images and (camvid / "train").is_dir():
        camvid = _camvid_subset(camvid, work / "camvid_data", args.camvid_images)
    out = work / "camvid"
    iterations = 2 if quick else args.camvid_iterations
    opts = [f"device={device}", f"train.max_iteration={iterations}", f"train.snapshot_step={iterations}",
            "train.log_step=1" if quick else "train.log_step=10", "train.warmup_iteration=1" if quick else ""]
    if quick:
        # the profile's width and embedding stay (its trace in config.yaml); a ResNet-18, 2 images a batch
        opts += ["network.backbone_depth=18", "train.batch_size=2", "num_workers=0", "train.tensorboard_step=0"]
    env = {"PROFILE": "gpu", "CAMVID": str(camvid), "OUT": str(out), "NUM_GPUS": "1", "NNODES": "1",
           "RUN_BASELINES": "0", "RUN_CURVE": "0", "RUN_TABLE": "0", "PYTHON": py,
           "EXTRA_OPTS": " ".join(o for o in opts if o),
           "OVERSEG_OPTS": "--max_regions 96" + (" --workers 1" if quick else "")}
    steps.append(Step("camvid_gpu_profile", ["bash", str(ROOT / "bashscripts" / "camvid" / "train.sh")], limit(200),
                      lambda _, out=out: _camvid_figures(out), env))
    return steps


def environment(device: str) -> dict:
    """What the figures were measured on."""
    import torch

    info = {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "cpu_cores": os.cpu_count(), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_bytes=props.total_memory, cuda=torch.version.cuda,
                    bf16_supported=torch.cuda.is_bf16_supported())
    return info


def run_step(step: Step, log_dir: Path) -> dict:
    """Run one step in its own process group (a timeout ends the whole group), keep its full output in
    ``log_dir/<name>.log`` and return its record."""
    log = log_dir / f"{step.name}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
           **step.env}
    record = {"name": step.name, "command": step.command, "timeout_s": step.timeout_s, "log": str(log)}
    start = time.monotonic()
    print(f"[gpu_check] {step.name} (at most {step.timeout_s} s) ...", flush=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(step.command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=step.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = 124
    record.update(rc=rc, seconds=round(time.monotonic() - start, 1), timed_out=rc == 124)
    output = log.read_text(errors="replace")
    record["tail"] = output[-TAIL:]
    try:  # a failed step's figures are whatever it got to write (pytest's counts, the stages it finished)
        record["figures"] = step.figures(output)
    except (OSError, ValueError, KeyError) as e:  # the step ran but did not write what it should have
        record["figures"] = {}
        record["figures_error"] = f"{type(e).__name__}: {e}"
        record["rc"] = record["rc"] or 1
    print(f"[gpu_check] {step.name}: rc {record['rc']}, {record['seconds']} s", flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="torch device of every step (default: cuda)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a dry run of every step (minutes on a CPU)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check.json",
                   help="the JSON written (default: benchmarks/results/gpu_check.json)")
    p.add_argument("--camvid", default=os.environ.get("CAMVID", str(ROOT.parent / "shared" / "data" / "CamVid")),
                   help="the CamVid folder of the launcher step (default: $CAMVID or ../shared/data/CamVid)")
    p.add_argument("--camvid_images", type=int, default=None,
                   help="use only this many train and val images of it (default: all; 2 with --quick)")
    p.add_argument("--camvid_iterations", type=int, default=300, help="iterations of each stage (default: 300)")
    p.add_argument("--steps", nargs="+", default=None, help="run only these steps (default: all)")
    p.add_argument("--work_dir", type=Path, default=None, help="where the steps write (default: a temporary folder)")
    p.add_argument("--python", default=sys.executable, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.camvid_images is None:
        args.camvid_images = 2 if args.quick else 0
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hsg_gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    steps = build_steps(args, work)
    unknown = set(args.steps or ()) - {s.name for s in steps}
    if unknown:
        p.error(f"--steps: unknown {', '.join(sorted(unknown))}; the steps are {', '.join(s.name for s in steps)}")
    result = {"quick": args.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "work_dir": str(work),
              "environment": environment(args.device), "steps": []}
    start = time.monotonic()
    for step in steps:
        if args.steps and step.name not in args.steps:
            continue
        result["steps"].append(run_step(step, work))
        result["seconds"] = round(time.monotonic() - start, 1)
        result["ok"] = all(s["rc"] == 0 for s in result["steps"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    failed = [s["name"] for s in result["steps"] if s["rc"] != 0]
    print(f"[gpu_check] {len(result['steps'])} steps in {result.get('seconds', 0)} s, "
          f"{'all passed' if not failed else 'failed: ' + ', '.join(failed)}; wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
