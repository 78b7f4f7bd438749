"""The paper's recipes end to end on miniature copies of the real downloads' layouts: bashscripts/coco/train.sh
and ``TRAIN_IMAGES=voc12`` (lists, over-segmentation of the images the mask download lacks, both stages, both
read-outs), bashscripts/cityscapes/train.sh (the same steps, stage 1 switched on) and
bashscripts/voc12/eval_released.sh (a checkpoint of the released files' keys and shapes, read out on VOC),
with tiny iterations and a small network through EXTRA_OPTS.

The layout is the downloads' own: ``MSCOCO/images/train2017`` beside ``MSCOCO/seginst/rf_0.25_48/train2017``
(the original's COCO mask download; ``VOC2012/rf_0.25_48`` its VOC one),
``VOCdevkit/VOC2012/{JPEGImages,segcls,ImageSets/Segmentation}`` and SBD's
``benchmark_RELEASE/dataset/{train,val}.txt`` inside VOCdevkit for ``train_aug``; Cityscapes'
``leftImg8bit/<split>/<city>``, ``gtFine/<split>/<city>`` and the original's PMI masks in
``seginst/pmi_0.05``. The photos are VOC JPEGs and the one Cityscapes frame from ../shared, linked, never
copied into the project."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import load_parity
from hsg.data.catalogue import CITYSCAPES_CLASSES, VOC_CLASSES

ROOT = Path(__file__).resolve().parents[1]
SMALL = ("network.backbone_depth=18 network.backbone_width=8 network.embedding_dim=16 network.node_padding=0 "
         "train.max_iteration=2 train.snapshot_step=2 train.batch_size=2 train.crop_size=[64,64] num_workers=0 "
         "train.tensorboard_step=0 test.image_size=96 test.crop_size=[96,96] test.stride=[96,96] "
         "network.use_syncbn=false")


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def _shipped_mask(image: Path, mask: Path) -> None:
    """A mask as the original's download ships it: uint16 PNG of the image's size, regions 1..n (here 12
    blocks)."""
    with Image.open(image) as im:
        w, h = im.size
    rows, cols = np.meshgrid(np.arange(h) * 3 // h, np.arange(w) * 4 // w, indexing="ij")
    mask.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rows * 4 + cols + 1).astype(np.uint16)).save(mask)


@pytest.fixture()
def downloads(shared_data, tmp_path) -> tuple[Path, dict]:
    voc_src = shared_data / "VOCdevkit" / "VOC2012"
    ids = sorted(p.stem for p in (voc_src / "segcls").glob("*.png"))[:12]
    if len(ids) < 12:
        pytest.skip(f"{voc_src} has fewer than 12 labelled images")
    root = tmp_path / "data"
    voc = root / "VOCdevkit" / "VOC2012"
    for i in ids[:8]:
        _link(voc_src / "JPEGImages" / f"{i}.jpg", voc / "JPEGImages" / f"{i}.jpg")
        _link(voc_src / "segcls" / f"{i}.png", voc / "segcls" / f"{i}.png")
    sets = voc / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("\n".join(ids[0:4]) + "\n")
    (sets / "val.txt").write_text("\n".join(ids[4:6]) + "\n")
    sbd = root / "VOCdevkit" / "benchmark_RELEASE" / "dataset"
    sbd.mkdir(parents=True)
    (sbd / "train.txt").write_text("\n".join([ids[2], ids[6]]) + "\n")
    (sbd / "val.txt").write_text(ids[7] + "\n")
    coco = root / "MSCOCO"
    names = [f"{n:012d}" for n in (139, 285, 632, 724)]
    for name, i in zip(names, ids[8:12]):
        _link(voc_src / "JPEGImages" / f"{i}.jpg", coco / "images" / "train2017" / f"{name}.jpg")
    for name in names[:2]:  # the download has these two; the launcher over-segments the other two
        _shipped_mask(coco / "images" / "train2017" / f"{name}.jpg",
                      coco / "seginst" / "rf_0.25_48" / "train2017" / f"{name}.png")
    for i in (ids[0], ids[6]):  # the VOC mask download's, for two train_aug images
        _shipped_mask(voc / "JPEGImages" / f"{i}.jpg", voc / "rf_0.25_48" / f"{i}.png")
    return root, {"coco": names, "train_aug": sorted({*ids[0:4], ids[6], ids[7]}), "val": ids[4:6]}


@pytest.mark.slow
@pytest.mark.parametrize("train_images", ["coco", "voc12"])
def test_the_recipe_runs_every_step_on_the_downloads_layout(train_images, downloads, tmp_path):
    root, ids = downloads
    if train_images == "coco":
        masks = root / "MSCOCO" / "seginst" / "rf_0.25_48" / "train2017"
        made = [f"{n}.png" for n in ids["coco"]]
    else:
        masks = root / "VOCdevkit" / "VOC2012" / "rf_0.25_48"
        made = [f"{i}.png" for i in ids["train_aug"]]
    shipped = {p.name: p.read_bytes() for p in masks.iterdir()}
    snap = tmp_path / "snap"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUN_") and k not in {"RANK", "WORLD_SIZE"}}
    env.update(DATAROOT=str(root), SNAPSHOT_DIR=str(snap), NUM_GPUS="1", EXTRA_OPTS=SMALL, OMP_NUM_THREADS="2",
               TRAIN_IMAGES=train_images)
    done = subprocess.run(["bash", str(ROOT / "bashscripts" / "coco" / "train.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])

    lists = snap / "lists"
    memory = [line.split() for line in (lists / "voc12_memory.txt").read_text().splitlines()]
    assert [r[0] for r in memory] == [f"VOC2012/JPEGImages/{i}.jpg" for i in ids["train_aug"]]
    assert [r[2] for r in memory] == [f"VOC2012/rf_0.25_48/{i}.png" for i in ids["train_aug"]]
    val = [line.split()[:2] for line in (lists / "voc12_val.txt").read_text().splitlines()]
    assert val == [[f"VOC2012/JPEGImages/{i}.jpg", f"VOC2012/segcls/{i}.png"] for i in ids["val"]]
    if train_images == "coco":
        coco_rows = [line.split() for line in (lists / "coco_train.txt").read_text().splitlines()]
        assert [r[0] for r in coco_rows] == [f"MSCOCO/images/train2017/{n}.jpg" for n in ids["coco"]]
        assert [r[2] for r in coco_rows] == [f"MSCOCO/seginst/rf_0.25_48/train2017/{n}.png" for n in ids["coco"]]
    else:
        assert not (lists / "coco_train.txt").exists()

    # the shipped masks are kept as they are; the missing ones were made
    assert sorted(p.name for p in masks.iterdir()) == sorted(made)
    assert all(masks.joinpath(name).read_bytes() == data for name, data in shipped.items())
    assert f"{len(made) - 2} written, 2 already done, 0 failed" in done.stdout

    for stage in ("stage1", "stage2"):
        assert (snap / stage / "model-2.pth").is_file()
        result = json.loads((snap / stage / "readout" / "readout.json").read_text())
        for readout in ("knn", "cluster"):  # the protocol's kNN vote and the label-free read-out
            assert result[readout]["images"] == len(ids["val"])
            assert 0 <= result[readout]["miou"] <= 100


# ------------------------------------------------------------------------------------------ Cityscapes
CITYSCAPES_FRAME = "frankfurt_000000_000294"  # the one real frame of ../shared (256x128) and its gtFine files
CITYSCAPES_GT = ("labelIds", "labelTrainIds", "instanceIds")


@pytest.fixture()
def cityscapes_download(shared_data, tmp_path) -> tuple[Path, dict]:
    """The Cityscapes downloads' layout (``leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png``,
    ``gtFine/<split>/<city>/<stem>_gtFine_<kind>.png``) and the original's PMI mask download
    (``seginst/pmi_0.05/<stem>_leftImg8bit.png``, one flat folder) for two of the four train frames: the one
    shared frame linked under the names of four train frames in two cities and two val frames."""
    src = shared_data / "samples" / "cityscapes"
    image = src / "leftImg8bit" / "val" / "frankfurt" / f"{CITYSCAPES_FRAME}_leftImg8bit.png"
    if not image.is_file():
        pytest.skip(f"{image} is not available")
    root = tmp_path / "Cityscapes"
    frames = {"train": ["aachen_000000_000019", "aachen_000001_000019", "bochum_000000_000313",
                        "bochum_000000_001097"],
              "val": ["frankfurt_000000_000294", "lindau_000000_000019"]}
    for split, stems in frames.items():
        for stem in stems:
            city = stem.split("_")[0]
            _link(image, root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            for kind in CITYSCAPES_GT:
                _link(src / "gtFine" / "val" / "frankfurt" / f"{CITYSCAPES_FRAME}_gtFine_{kind}.png",
                      root / "gtFine" / split / city / f"{stem}_gtFine_{kind}.png")
    for stem in frames["train"][:2]:  # the PMI download has these two; the launcher over-segments the others
        _shipped_mask(image, root / "seginst" / "pmi_0.05" / f"{stem}_leftImg8bit.png")
    return root, frames


@pytest.mark.slow
def test_the_cityscapes_recipe_runs_every_step_on_the_downloads_layout(cityscapes_download, tmp_path):
    """bashscripts/cityscapes/train.sh with its optional stage 1 switched on, so that every step runs:
    lists, over-segmentation of the frames the PMI download lacks, stage 1, its read-out, stage 2 from
    stage 1, its read-out."""
    root, frames = cityscapes_download
    masks = root / "seginst" / "pmi_0.05"
    shipped = {p.name: p.read_bytes() for p in masks.iterdir()}
    snap = tmp_path / "snap"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUN_") and k not in {"RANK", "WORLD_SIZE"}}
    env.update(DATAROOT=str(root), SNAPSHOT_DIR=str(snap), NUM_GPUS="1", EXTRA_OPTS=SMALL, OMP_NUM_THREADS="2",
               RUN_TRAIN1="1", RUN_READOUT1="1")
    done = subprocess.run(["bash", str(ROOT / "bashscripts" / "cityscapes" / "train.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])

    lists = snap / "lists"
    train = [line.split() for line in (lists / "cityscapes_train.txt").read_text().splitlines()]
    assert train == [[f"leftImg8bit/train/{s.split('_')[0]}/{s}_leftImg8bit.png",
                      f"gtFine/train/{s.split('_')[0]}/{s}_gtFine_labelTrainIds.png",
                      f"seginst/pmi_0.05/{s}_leftImg8bit.png"] for s in frames["train"]]
    val = [line.split()[:2] for line in (lists / "cityscapes_val.txt").read_text().splitlines()]
    assert val == [[f"leftImg8bit/val/{s.split('_')[0]}/{s}_leftImg8bit.png",
                    f"gtFine/val/{s.split('_')[0]}/{s}_gtFine_labelTrainIds.png"] for s in frames["val"]]

    # the shipped masks are kept as they are; the missing ones were made, at the frame's size
    assert sorted(p.name for p in masks.iterdir()) == sorted(f"{s}_leftImg8bit.png" for s in frames["train"])
    assert all(masks.joinpath(name).read_bytes() == data for name, data in shipped.items())
    assert "2 written, 2 already done, 0 failed" in done.stdout
    for stem in frames["train"][2:]:
        made = np.asarray(Image.open(masks / f"{stem}_leftImg8bit.png"))
        assert made.shape == (128, 256) and made.min() >= 1 and len(np.unique(made)) > 1

    stage2 = yaml.safe_load((snap / "stage2" / "config.yaml").read_text())
    assert stage2["network"]["pretrained"] == str(snap / "stage1" / "model-2.pth")  # stage 2 starts from stage 1
    for stage in ("stage1", "stage2"):
        assert (snap / stage / "model-2.pth").is_file()
        result = json.loads((snap / stage / "readout" / "readout.json").read_text())
        for readout in ("knn", "cluster"):
            assert result[readout]["images"] == len(frames["val"])
            assert 0 <= result[readout]["miou"] <= 100
            assert list(result[readout]["per_class_iou"]) == list(CITYSCAPES_CLASSES)  # the 19 trainIds


# ------------------------------------------------------------------------------------------ released models
@pytest.fixture()
def released_checkpoint(parity_dir, tmp_path) -> Path:
    """A file laid out as the released COCO models: ``{'embedding_model': sd, 'prediction_model': {}}`` with
    exactly their key set and shapes (the original ResNet-50 + conv_out and the transformers at C = 128, as
    the parity fixtures record them; tests/test_convert.py), holding a freshly initialised network's values
    so that the forward pass is finite (random BatchNorm variances would not be). Nothing is downloaded."""
    from hsg.config.config import load_config
    from hsg.models.convert import to_original
    from hsg.models.model import build_model

    backbone = load_parity(parity_dir, "backbone_resnet50_conv_out.pt")["config"]
    grouping = load_parity(parity_dir, "hsg_grouping_resnet50_c128.pt")["state_dict"]
    shapes = {k: tuple(s) for k, s in zip(backbone["state_dict_keys"], backbone["state_dict_shapes"])}
    shapes.update({k: tuple(v.shape) for k, v in grouping.items()})
    torch.manual_seed(0)
    state = to_original(build_model(load_config("coco_stage2")).state_dict())
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes  # the released files' keys and shapes
    released = tmp_path / "hsg_coco_128.pth"
    torch.save({"embedding_model": state, "prediction_model": {}}, released)
    return released


@pytest.mark.slow
def test_eval_released_scores_a_released_model_on_the_downloads_layout(shared_data, released_checkpoint, tmp_path):
    """bashscripts/voc12/eval_released.sh as docs/usage.md §7 runs it (CHECKPOINT, PAPER, DATAROOT; the
    default MEMORY_SPLIT train_aug, so SBD's folder inside VOCdevkit is read), on the smallest VOCdevkit
    that exercises it: a memory of one VOC train and one SBD-only image, two val images, ResNet-50 at 64 px."""
    voc_src = shared_data / "VOCdevkit" / "VOC2012"
    ids = sorted(p.stem for p in (voc_src / "segcls").glob("*.png"))[:4]
    if len(ids) < 4:
        pytest.skip(f"{voc_src} has fewer than 4 labelled images")
    root = tmp_path / "data"
    voc = root / "VOCdevkit" / "VOC2012"
    for i in ids:
        _link(voc_src / "JPEGImages" / f"{i}.jpg", voc / "JPEGImages" / f"{i}.jpg")
        _link(voc_src / "segcls" / f"{i}.png", voc / "segcls" / f"{i}.png")
    sets = voc / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text(ids[0] + "\n")
    (sets / "val.txt").write_text("\n".join(ids[2:4]) + "\n")
    sbd = root / "VOCdevkit" / "benchmark_RELEASE" / "dataset"
    sbd.mkdir(parents=True)
    (sbd / "train.txt").write_text(ids[1] + "\n")
    (sbd / "val.txt").write_text(ids[2] + "\n")  # a VOC val image: train_aug leaves it out

    save = tmp_path / "released"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUN_") and k not in {"RANK", "WORLD_SIZE"}}
    env.pop("MEMORY_SPLIT", None)
    env.update(CHECKPOINT=str(released_checkpoint), PAPER="42.2", DATAROOT=str(root), SAVE_DIR=str(save),
               NUM_GPUS="1", OMP_NUM_THREADS="2",
               EXTRA_OPTS="test.image_size=64 test.crop_size=[64,64] test.stride=[64,64] num_workers=0")
    done = subprocess.run(["bash", str(ROOT / "bashscripts" / "voc12" / "eval_released.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])

    memory = [line.split()[:2] for line in (save / "lists" / "voc12_memory.txt").read_text().splitlines()]
    assert memory == [[f"VOC2012/JPEGImages/{i}.jpg", f"VOC2012/segcls/{i}.png"] for i in ids[:2]]
    val = [line.split()[:2] for line in (save / "lists" / "voc12_val.txt").read_text().splitlines()]
    assert val == [[f"VOC2012/JPEGImages/{i}.jpg", f"VOC2012/segcls/{i}.png"] for i in ids[2:4]]
    result = json.loads((save / "readout.json").read_text())
    assert set(result) == {"knn", "cluster"}
    for readout in ("knn", "cluster"):
        assert result[readout]["images"] == 2 and 0 <= result[readout]["miou"] <= 100
        assert list(result[readout]["per_class_iou"]) == list(VOC_CLASSES)
    assert (f"[eval_released] {released_checkpoint}: kNN vote {result['knn']['miou']:.2f} mIoU (the paper: 42.2), "
            f"label-free {result['cluster']['miou']:.2f}") in done.stdout
    for i in ids[2:4]:  # predictions at the photo's size, not the 64 px the network saw
        gray = np.asarray(Image.open(save / "test" / "semantic_gray" / f"{i}.png"))
        assert gray.shape == np.asarray(Image.open(voc_src / "segcls" / f"{i}.png")).shape
