"""What the training tests share: tiny run settings, a small dataset with over-segmentations, the
command lines, and readers of what a run leaves behind (checkpoints, log records).

Runs are tiny (ResNet-18 of width 8, 48 px crops, 4 images a batch, 8 training images) so that a whole run
takes well under a second plus the interpreter start-up. Subprocess runs use one OpenMP thread so that an
interrupted and an uninterrupted run compute bit-identical numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.segmentation import slic

from hsg.data.lists import write_list
from hsg.demo.synthetic import SyntheticSpec, write_dataset

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "pyenv" / "train.py"
SLOW_SCRIPT = ROOT / "tests" / "slow_train.py"

TINY = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.output_stride=8", "train.crop_size=[48,48]", "train.batch_size=4", "num_workers=0",
        "train.log_step=1", "train.tensorboard_step=0", "seed=3"]
# Stage 2 with every loss and with dropout, so that resuming must restore the torch random stream.
STAGE2 = ["network.hierarchy=true", "network.transformer_dropout=0.1", "network.node_padding=0",
          "network.kmeans_num_clusters=[2,2]", "network.kmeans_iterations=3",
          "train.fine_hrchy_loss_types=segsort", "train.coarse_hrchy_loss_types=segsort",
          "train.dmon_loss_types=dmon", "train.centroid_cont_loss_types=segsort"]
STAGES = {"stage1": TINY, "stage2": TINY + STAGE2}
TERMS = {"stage1": {"img_sim"},
         "stage2": {"img_sim", "fine_hrchy", "coarse_hrchy", "dmon", "collapse", "centroid_cont"}}
# 8 images of 4 a batch: 2 batches an epoch, so the checkpoint after iteration 3 sits mid-epoch.
RUN = ["train.snapshot_step=3", "train.max_iteration=9"]
IMAGES = {"train/image", "train/oversegmentation", "train/kmeans_segments", "train/embedding_pca"}
GROUP_IMAGES = {"train/fine_groups", "train/coarse_groups"}


@dataclass(frozen=True)
class Data:
    root: Path
    list: Path


# ------------------------------------------------------------------------------------------ helpers
def _env() -> dict[str, str]:
    """A single-process, single-thread environment whose errors are one line (no HSG_TRACEBACK)."""
    drop = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "HSG_TRACEBACK"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    return env


def _command(script: Path, data: Data, snapshot: Path, opts: list[str], data_list: Path | None = None) -> list[str]:
    return [sys.executable, str(script), "--data_dir", str(data.root), "--data_list", str(data_list or data.list),
            "--snapshot_dir", str(snapshot), "--opts", *opts]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)


def _checkpoints(folder: Path) -> list[str]:
    return sorted((p.name for p in folder.glob("model-*.pth")), key=lambda n: int(n[6:-4]))


def _records(folder: Path) -> dict[int, dict]:
    """The last log.jsonl record of each iteration (a resumed run re-logs the iterations after its checkpoint)."""
    records = {}
    for line in (folder / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["iteration"]] = record
    return records


def _assert_same_tensors(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and numbers are exactly equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _image_tags(folder: Path) -> tuple[dict[str, list], set[str]]:
    """TensorBoard image events by tag, and the scalar tags."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return {tag: acc.Images(tag) for tag in acc.Tags()["images"]}, set(acc.Tags()["scalars"])


def _logged_iterations(folder: Path) -> list[int]:
    path = folder / "log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["iteration"] for line in path.read_text().splitlines() if line.endswith("}")]


def make_data(root: Path) -> Data:
    """8 synthetic 48 px images with SLIC over-segmentations (uint16 PNG) and a three-column list."""
    lists = write_dataset(root, SyntheticSpec(num_train=8, num_val=0, size=48, seed=1))
    rows = []
    for line in lists["train"].read_text().splitlines():
        image = line.split()[0]
        regions = slic(np.asarray(Image.open(root / image)), n_segments=12, compactness=10, start_label=1)
        mask = f"oversegmentation/{Path(image).name}"
        (root / "oversegmentation").mkdir(exist_ok=True)
        Image.fromarray(regions.astype(np.uint16)).save(root / mask)
        rows.append((image, "-", mask))
    listfile = root / "train_regions.txt"
    write_list(listfile, rows)
    return Data(root, listfile)


def uninterrupted_runs(data: Data, make_folder) -> "callable":
    """``get(stage)``: the snapshot folder of an uninterrupted 9-iteration CLI run (each run once)."""
    runs: dict[str, Path] = {}

    def get(stage: str) -> Path:
        if stage not in runs:
            folder = make_folder(f"uninterrupted_{stage}")
            done = _run(_command(TRAIN_SCRIPT, data, folder, STAGES[stage] + RUN))
            assert done.returncode == 0, done.stderr[-3000:]
            runs[stage] = folder
        return runs[stage]

    return get
