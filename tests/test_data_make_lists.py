"""pyenv/make_lists.py: list files from the datasets' layouts and split files, readable by the datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hsg.config.config import get_default_config
from hsg.data.catalogue import oversegmentation_path
from hsg.data.datasets import EvalDataset, TrainDataset
from hsg.data.lists import read_list

ROOT = Path(__file__).resolve().parents[1]
CS_NAME = "frankfurt_000000_000294"


@pytest.fixture(scope="module")
def make_lists():
    from hsg.cli import make_lists

    return make_lists


def run(make_lists, capsys, *args: str) -> tuple[list[list[str]], str]:
    out = Path(args[args.index("--out") + 1])
    assert make_lists.main(list(args)) == 0
    rows = [line.split() for line in out.read_text().splitlines()]
    return rows, capsys.readouterr().out


def voc_ids(shared_data: Path) -> list[str]:
    return sorted(p.stem for p in (shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))


def test_seginst_path_rules():
    assert oversegmentation_path("voc12", "VOC2012/JPEGImages/2007_000032.jpg", "rf_0.25_48") == \
        "VOC2012/rf_0.25_48/2007_000032.png"
    assert oversegmentation_path("coco", "MSCOCO/images/train2017/000000000009.jpg", "rf_0.25_48") == \
        "MSCOCO/seginst/rf_0.25_48/train2017/000000000009.png"
    assert oversegmentation_path("cityscapes", f"leftImg8bit/train/aachen/{CS_NAME}_leftImg8bit.png", "pmi_0.05") == \
        f"seginst/pmi_0.05/{CS_NAME}_leftImg8bit.png"
    assert oversegmentation_path("folder", "photos/2023/a.jpeg", "masks") == "masks/photos/2023/a.png"
    with pytest.raises(ValueError, match="has no 'JPEGImages' folder"):
        oversegmentation_path("voc12", "images/x.jpg", "rf")
    with pytest.raises(ValueError, match="unknown dataset"):
        oversegmentation_path("kitti", "x.png", "rf")


def test_voc_all_on_shared_data(make_lists, capsys, shared_data, tmp_path):
    out = tmp_path / "all.txt"
    rows, log = run(make_lists, capsys, "--dataset", "voc12", "--data_dir", str(shared_data / "VOCdevkit"),
                    "--split", "all", "--out", str(out))
    ids = voc_ids(shared_data)
    assert len(rows) == len(ids) == 330
    assert rows[0] == [f"VOC2012/JPEGImages/{ids[0]}.jpg", f"VOC2012/segcls/{ids[0]}.png",
                       f"VOC2012/rf_0.25_48/{ids[0]}.png"]
    assert "330 image(s) have no over-segmentation yet" in log
    samples = read_list(out, shared_data / "VOCdevkit", require=("image", "semantic_label"))
    assert len(samples) == 330


@pytest.fixture()
def voc_root(shared_data: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A VOCdevkit with split files: images and labels link to ../shared, splits and SBD ids are written."""
    ids = voc_ids(shared_data)[:10]
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    for folder in ("JPEGImages", "segcls"):
        (voc / folder).symlink_to(shared_data / "VOCdevkit" / "VOC2012" / folder)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids[0:4]) + "\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(ids[4:6]) + "\n")
    sbd = tmp_path / "VOCdevkit" / "sbd" / "dataset"
    sbd.mkdir(parents=True)
    (sbd / "train.txt").write_text("\n".join(ids[5:8] + ["2099_000001"]) + "\n")  # one id without an image
    (sbd / "val.txt").write_text("\n".join(ids[8:10] + [ids[0]]) + "\n")
    return tmp_path / "VOCdevkit", ids


def test_voc_train_aug_is_sbd_plus_train_minus_val(make_lists, capsys, voc_root, tmp_path):
    root, ids = voc_root
    rows, log = run(make_lists, capsys, "--dataset", "voc12", "--data_dir", str(root), "--split", "train_aug",
                    "--out", str(tmp_path / "aug.txt"))
    expected = sorted(set(ids[0:4]) | set(ids[6:10]))  # ids[5] is SBD but VOC val: left out
    assert [Path(r[0]).stem for r in rows] == expected
    assert "1 id(s) of the split have no image on disk" in log and "2099_000001" in log
    rows, _ = run(make_lists, capsys, "--dataset", "voc12", "--data_dir", str(root), "--split", "val",
                  "--out", str(tmp_path / "val.txt"))
    assert [Path(r[0]).stem for r in rows] == ids[4:6]


def test_voc_existing_masks_and_skip_missing(make_lists, capsys, voc_root, tmp_path):
    root, ids = voc_root
    masks = root / "VOC2012" / "rf_0.25_48"
    masks.mkdir()
    for image_id in ids[0:2]:
        gt = np.asarray(Image.open(root / "VOC2012" / "segcls" / f"{image_id}.png")).astype(np.uint16) + 1
        Image.fromarray(gt).save(masks / f"{image_id}.png")
    rows, log = run(make_lists, capsys, "--dataset", "voc12", "--data_dir", str(root), "--split", "train",
                    "--out", str(tmp_path / "train.txt"))
    assert len(rows) == 4 and "2 image(s) have no over-segmentation yet" in log
    rows, log = run(make_lists, capsys, "--dataset", "voc12", "--data_dir", str(root), "--split", "train",
                    "--skip_missing_seginst", "--out", str(tmp_path / "ready.txt"))
    assert [Path(r[0]).stem for r in rows] == ids[0:2] and "were left out" in log
    cfg = get_default_config()
    cfg.train.crop_size = [64, 64]
    item = TrainDataset(cfg, str(root), str(tmp_path / "ready.txt"))[1]
    assert item["oversegmentation"].shape == (2, 64, 64)


def test_missing_split_file_is_one_line_error(make_lists, capsys, shared_data, tmp_path):
    with pytest.raises(SystemExit) as info:
        make_lists.main(["--dataset", "voc12", "--data_dir", str(shared_data / "VOCdevkit"), "--split", "train",
                         "--out", str(tmp_path / "x.txt")])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "ImageSets/Segmentation/train.txt: split file not found" in err
    assert not (tmp_path / "x.txt").exists()


def test_cityscapes_layout(make_lists, capsys, shared_data, tmp_path):
    rows, _ = run(make_lists, capsys, "--dataset", "cityscapes", "--split", "val",
                  "--data_dir", str(shared_data / "samples" / "cityscapes"), "--out", str(tmp_path / "cs.txt"))
    assert rows == [[f"leftImg8bit/val/frankfurt/{CS_NAME}_leftImg8bit.png",
                     f"gtFine/val/frankfurt/{CS_NAME}_gtFine_labelTrainIds.png",
                     f"seginst/pmi_0.05/{CS_NAME}_leftImg8bit.png"]]
    # Only labelIds on disk: listed as they are and converted when read.
    root = tmp_path / "Cityscapes"
    shutil.copytree(shared_data / "samples" / "cityscapes", root)
    (root / f"gtFine/val/frankfurt/{CS_NAME}_gtFine_labelTrainIds.png").unlink()
    (root / "seginst" / "pmi_0.05").mkdir(parents=True)
    shutil.copy(root / f"gtFine/val/frankfurt/{CS_NAME}_gtFine_instanceIds.png",
                root / f"seginst/pmi_0.05/{CS_NAME}_leftImg8bit.png")
    rows, log = run(make_lists, capsys, "--dataset", "cityscapes", "--data_dir", str(root), "--split", "val",
                    "--out", str(tmp_path / "cs2.txt"))
    assert rows[0][1] == f"gtFine/val/frankfurt/{CS_NAME}_gtFine_labelIds.png" and "over-segmentation" not in log
    cfg = get_default_config()
    cfg.dataset.num_classes = 19
    cfg.test.image_size = 256
    cfg.test.crop_size = [128, 256]
    item = EvalDataset(cfg, str(root), str(tmp_path / "cs2.txt"), with_oversegmentation=True)[0]
    label = item["semantic_label"]
    assert int(label.max()) == 255 and int(label[label < 255].max()) <= 18


def test_coco_layout(make_lists, capsys, shared_data, tmp_path):
    images = tmp_path / "MSCOCO" / "images" / "train2017"
    images.mkdir(parents=True)
    for jpg in (shared_data / "samples" / "coco_panoptic" / "input_images").glob("*.jpg"):
        (images / jpg.name).symlink_to(jpg)
    rows, log = run(make_lists, capsys, "--dataset", "coco", "--data_dir", str(tmp_path),
                    "--out", str(tmp_path / "c.txt"))
    assert rows[0] == ["MSCOCO/images/train2017/000000142238.jpg", "-",
                       "MSCOCO/seginst/rf_0.25_48/train2017/000000142238.png"]
    assert len(rows) == 2 and "2 image(s) have no semantic label" in log


def test_folder_of_images_end_to_end(make_lists, capsys, shared_data, tmp_path):
    """Nested images, masks kept inside the image folder: the masks are not listed as images."""
    root = tmp_path / "photos"
    ids = voc_ids(shared_data)[:3]
    (root / "trip" / "day2").mkdir(parents=True)
    targets = [root / f"{ids[0]}.jpg", root / "trip" / f"{ids[1]}.jpg", root / "trip" / "day2" / f"{ids[2]}.jpg"]
    for image_id, target in zip(ids, targets):
        target.symlink_to(shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{image_id}.jpg")
        mask = root / "masks" / target.relative_to(root).with_suffix(".png")
        mask.parent.mkdir(parents=True, exist_ok=True)
        gt = np.asarray(Image.open(shared_data / "VOCdevkit" / "VOC2012" / "segcls" / f"{image_id}.png"))
        Image.fromarray(gt.astype(np.uint16) + 1).save(mask)
    rows, log = run(make_lists, capsys, "--dataset", "folder", "--data_dir", str(root), "--seginst_dir", "masks",
                    "--out", str(tmp_path / "folder.txt"))
    assert [r[0] for r in rows] == [f"{ids[0]}.jpg", f"trip/{ids[1]}.jpg", f"trip/day2/{ids[2]}.jpg"]
    assert [r[2] for r in rows] == [f"masks/{ids[0]}.png", f"masks/trip/{ids[1]}.png", f"masks/trip/day2/{ids[2]}.png"]
    assert "over-segmentation" not in log
    cfg = get_default_config()
    cfg.train.crop_size = [64, 64]
    ds = TrainDataset(cfg, str(root), str(tmp_path / "folder.txt"))
    assert [ds[i]["oversegmentation"].max() >= 1 for i in range(3)] == [True] * 3


def test_paths_with_spaces_are_quoted_and_read_back(make_lists, capsys, shared_data, tmp_path):
    """A folder of photos with a space in a sub-folder's name: the list quotes the paths and every
    reader gets them whole; a quote that does not enclose a whole path is one line naming the list line."""
    root = tmp_path / "my photos"
    image_id = voc_ids(shared_data)[0]
    target = root / "day one" / f"{image_id}.jpg"
    target.parent.mkdir(parents=True)
    target.symlink_to(shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{image_id}.jpg")
    mask = root / "oversegmentation" / "day one" / f"{image_id}.png"
    mask.parent.mkdir(parents=True)
    gt = np.asarray(Image.open(shared_data / "VOCdevkit" / "VOC2012" / "segcls" / f"{image_id}.png"))
    Image.fromarray(gt.astype(np.uint16) + 1).save(mask)
    out = tmp_path / "list.txt"
    assert make_lists.main(["--dataset", "folder", "--data_dir", str(root), "--out", str(out)]) == 0
    capsys.readouterr()
    line = out.read_text().strip()
    assert line.startswith(f'"day one/{image_id}.jpg"') and f'"oversegmentation/day one/{image_id}.png"' in line
    sample = read_list(out, root, require=("image", "oversegmentation"))[0]
    assert sample.image == str(target) and sample.oversegmentation == str(mask)
    cfg = get_default_config()
    cfg.train.crop_size = [64, 64]
    assert TrainDataset(cfg, str(root), str(out))[0]["oversegmentation"].max() >= 1
    (tmp_path / "bad.txt").write_text(f'"day one/{image_id}.jpg\n')
    from hsg.errors import DataError
    with pytest.raises(DataError, match=r"bad\.txt.*line 1: a double quote must enclose a whole path"):
        read_list(tmp_path / "bad.txt", root)


def test_camvid_layout_and_void(make_lists, capsys, shared_data, tmp_path):
    """CamVid (the SegNet layout): lists of the val split, the void label 11 kept as the ignore value by
    the dataset under the CamVid preset, and never scored: a prediction that is right on every labelled
    pixel and wrong on every void pixel scores 100 mIoU."""
    from hsg.config.config import load_config
    from hsg.evaluation.pairs import pair_by_list
    from hsg.evaluation.report import evaluate_pairing

    root = shared_data / "CamVid"
    rows, _ = run(make_lists, capsys, "--dataset", "camvid", "--split", "val", "--data_dir", str(root),
                  "--out", str(tmp_path / "val.txt"))
    expected = [line.split() for line in (root / "val.txt").read_text().splitlines() if line.strip()]
    assert [r[:2] for r in rows] == expected and len(rows) == 101
    assert rows[0][2] == "oversegmentation/" + rows[0][0].replace(".jpg", ".png")
    cfg = load_config("camvid_stage1")
    ds = EvalDataset(cfg, str(root), str(tmp_path / "val.txt"))
    preds = tmp_path / "pred"
    preds.mkdir()
    for i in range(3):
        label = ds[i]["semantic_label"].numpy()
        truth = np.asarray(Image.open(root / rows[i][1]))
        assert np.array_equal(label, truth) and label.max() == 11 and 0 < (label == 11).mean() < 0.5
        wrong_on_void = np.where(label == 11, (label + 3) % 11, label).astype(np.uint8)
        Image.fromarray(wrong_on_void).save(preds / f"{Path(rows[i][0]).stem}.png")
    (tmp_path / "three.txt").write_text("\n".join(" ".join(r[:2]) for r in rows[:3]) + "\n")
    report = evaluate_pairing(pair_by_list(preds, tmp_path / "three.txt", root), num_classes=11,
                              ignore_index=cfg.dataset.semantic_ignore_index, class_names="camvid")
    assert report["miou_present"] == pytest.approx(100.0)
