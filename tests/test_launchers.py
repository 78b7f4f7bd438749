"""The launchers a user runs: the folder recipe end to end, the evaluation of a released checkpoint, the
CamVid launcher's over-segmentation options, and a missing data folder reported at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import load_parity

ROOT = Path(__file__).resolve().parents[1]


def _bash(script: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUN_")}
    environment.update(env)
    return subprocess.run(["bash", str(ROOT / "bashscripts" / script)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("script, env, message", [
    ("coco/train.sh", {"DATAROOT": "/nowhere"}, "VOC 2012 images (DATAROOT=/nowhere) not found"),
    ("voc12/train.sh", {"DATAROOT": "/nowhere"}, "VOC 2012 images (DATAROOT=/nowhere) not found"),
    ("cityscapes/train.sh", {"DATAROOT": "/nowhere"}, "Cityscapes images (DATAROOT=/nowhere) not found"),
    ("camvid/train.sh", {"CAMVID": "/nowhere"}, "CamVid train images (CAMVID=/nowhere) not found"),
    ("mini/train.sh", {"SHARED": "/nowhere"}, "the shared VOC images (SHARED=/nowhere) not found"),
    ("folder/train.sh", {"IMAGES": "/nowhere"}, "IMAGES not found: /nowhere"),
    ("voc12/eval_released.sh", {"CHECKPOINT": "x.pth", "DATAROOT": "/nowhere"}, "VOC 2012 images"),
])
def test_a_missing_data_folder_is_reported_at_once(script, env, message):
    started = time.monotonic()
    done = _bash(script, **env)
    assert done.returncode == 1 and message in done.stderr, done.stderr[-2000:]
    assert time.monotonic() - started < 10  # before anything imports torch or trains


@pytest.mark.slow
def test_folder_recipe_on_a_few_photos(shared_data, tmp_path):
    photos = tmp_path / "my photos"
    (photos / "day 2").mkdir(parents=True)
    for i, src in enumerate(sorted((shared_data / "BSDS500" / "images" / "val").glob("*.jpg"))[:5]):
        shutil.copy(src, photos / ("day 2" if i == 0 else "") / src.name)
    before = sorted(p.relative_to(photos) for p in photos.rglob("*"))
    out = tmp_path / "out"
    done = _bash("folder/train.sh", IMAGES=str(photos), OUT=str(out), PROFILE="cpu", PICTURES="2",
                 EXTRA_OPTS="train.max_iteration=2 train.snapshot_step=2 train.batch_size=4")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len((out / "lists" / "photos.txt").read_text().splitlines()) == 5
    assert len(list((out / "oversegmentation").rglob("*.png"))) == 5
    assert (out / "stage1" / "model-2.pth").is_file() and (out / "stage2" / "model-2.pth").is_file()
    assert len(list((out / "pictures" / "hierarchy" / "figure").rglob("*.png"))) == 2
    assert sorted(p.relative_to(photos) for p in photos.rglob("*")) == before  # nothing written beside the photos


@pytest.mark.slow
def test_released_checkpoint_recipe_reads_the_original_format(shared_data, parity_dir, tmp_path):
    """bashscripts/voc12/eval_released.sh on a small VOC layout, with a file laid out as the released COCO
    models (random weights of their exact key set and shapes; nothing is downloaded)."""
    from hsg.config.config import load_config
    from hsg.models.convert import to_original
    from hsg.models.model import build_model

    backbone = load_parity(parity_dir, "backbone_resnet50_conv_out.pt")["config"]
    grouping = load_parity(parity_dir, "hsg_grouping_resnet50_c128.pt")["state_dict"]
    state = to_original(build_model(load_config("coco_stage2")).state_dict())  # freshly initialised values
    assert set(state) == set(backbone["state_dict_keys"]) | set(grouping)  # the released files' key set
    released = tmp_path / "hsg_coco_192.pth"
    torch.save({"embedding_model": state, "prediction_model": {}}, released)
    voc = tmp_path / "data" / "VOCdevkit" / "VOC2012"
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    for folder in ("JPEGImages", "segcls"):
        (voc / folder).symlink_to(shared_data / "VOCdevkit" / "VOC2012" / folder)
    ids = sorted(p.stem for p in (voc / "segcls").glob("*.png"))[:4]
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids[:2]) + "\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(ids[2:]) + "\n")
    save = tmp_path / "released"
    done = _bash("voc12/eval_released.sh", CHECKPOINT=str(released), DATAROOT=str(tmp_path / "data"),
                 MEMORY_SPLIT="train", SAVE_DIR=str(save), PAPER="43.7",
                 EXTRA_OPTS="test.image_size=128 test.crop_size=[128,128] test.stride=[128,128] num_workers=0")
    assert done.returncode == 0, done.stderr[-3000:]
    readout = json.loads((save / "readout.json").read_text())
    assert set(readout) == {"knn", "cluster"} and readout["knn"]["images"] == 2
    assert f"[eval_released] {released}: kNN vote {readout['knn']['miou']:.2f} mIoU (the paper: 43.7)" in done.stdout
    grays = sorted((save / "test" / "semantic_gray").glob("*.png"))
    assert [g.stem for g in grays] == ids[2:]
    assert np.asarray(Image.open(grays[0])).shape == np.asarray(Image.open(voc / "segcls" / f"{ids[2]}.png")).shape


def test_camvid_launcher_passes_its_oversegmentation_options(shared_data, tmp_path):
    """``OVERSEG_OPTS`` reaches pyenv/oversegment.py for both splits (CamVid's regions are 25-100 by
    default, so at most 4 regions shows the option took effect); the training steps are skipped."""
    camvid = tmp_path / "CamVid"
    for split in ("train", "val"):
        for folder in (split, f"{split}annot"):
            (camvid / folder).mkdir(parents=True)
        for image in sorted((shared_data / "CamVid" / split).glob("*.jpg"))[:2]:
            (camvid / split / image.name).symlink_to(image)
            annot = f"{split}annot/{image.stem}.png"
            (camvid / annot).symlink_to(shared_data / "CamVid" / annot)
    out = tmp_path / "out"
    done = _bash("camvid/train.sh", CAMVID=str(camvid), OUT=str(out), OVERSEG_OPTS="--max_regions 4 --workers 1",
                 RUN_TRAIN1="0", RUN_TRAIN2="0", RUN_BASELINES="0", RUN_CURVE="0", RUN_TABLE="0")
    assert done.returncode == 0, done.stderr[-3000:]
    masks = sorted((out / "oversegmentation").rglob("*.png"))
    assert [m.parent.name for m in masks] == ["train", "train", "val", "val"]
    for mask in masks:
        assert 1 <= len(np.unique(np.asarray(Image.open(mask)))) <= 4, mask
