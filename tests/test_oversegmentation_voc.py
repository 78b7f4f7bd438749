"""pyenv/oversegment.py on real VOC images: masks the VOC dataset reads, each with at most 48 regions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hsg.config.config import get_default_config
from hsg.data.datasets import EvalDataset
from hsg.data.catalogue import oversegmentation_path
from hsg.oversegmentation import hed

ROOT = Path(__file__).resolve().parents[1]
IDS = ("2007_000032", "2007_000039", "2007_000063")


@pytest.fixture(scope="module")
def tool():
    from hsg.cli import oversegment

    return oversegment


@pytest.fixture()
def voc_root(shared_data, tmp_path) -> Path:
    """A writable VOC layout whose JPEGs link to the shared (read-only) ones."""
    jpegs = tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages"
    labels = tmp_path / "VOCdevkit" / "VOC2012" / "segcls"
    jpegs.mkdir(parents=True)
    labels.mkdir(parents=True)
    src = shared_data / "VOCdevkit" / "VOC2012"
    for i in IDS:
        os.symlink(src / "JPEGImages" / f"{i}.jpg", jpegs / f"{i}.jpg")
        os.symlink(src / "segcls" / f"{i}.png", labels / f"{i}.png")
    return tmp_path / "VOCdevkit"


def _check_mask(mask_path: Path, image_path: Path, max_regions: int = 48) -> np.ndarray:
    with Image.open(mask_path) as im:
        assert im.mode == "I;16", f"{mask_path} is {im.mode}, expected a uint16 PNG"
        mask = np.asarray(im)
    with Image.open(image_path) as im:
        assert mask.shape == (im.height, im.width)
    ids = np.unique(mask)
    assert ids[0] == 1 and np.array_equal(ids, np.arange(1, len(ids) + 1)), "labels must be 1..n"
    assert len(ids) <= max_regions
    return mask


def test_list_mode_writes_masks_the_voc_dataset_reads(tool, voc_root, capsys) -> None:
    two_columns = voc_root / "train_two.txt"
    two_columns.write_text("".join(f"VOC2012/JPEGImages/{i}.jpg VOC2012/segcls/{i}.png\n" for i in IDS))
    assert tool.main(["--data_dir", str(voc_root), "--data_list", str(two_columns), "--seginst_dir", "rf_0.25_48",
                      "--workers", "1"]) == 0
    assert "3 written, 0 already done, 0 failed" in capsys.readouterr().out
    rows = []
    for i in IDS:
        image_rel = f"VOC2012/JPEGImages/{i}.jpg"
        mask_rel = oversegmentation_path("voc12", image_rel, "rf_0.25_48")
        assert mask_rel == f"VOC2012/rf_0.25_48/{i}.png"
        _check_mask(voc_root / mask_rel, voc_root / image_rel)
        rows.append(f"{image_rel} VOC2012/segcls/{i}.png {mask_rel}\n")
    three_columns = voc_root / "train.txt"
    three_columns.write_text("".join(rows))

    dataset = EvalDataset(get_default_config(), str(voc_root), str(three_columns), with_oversegmentation=True)
    item = dataset[0]
    h, w = item["valid_size"]
    region = item["oversegmentation"][:h, :w]
    assert region.min() >= 1 and region.max() <= 48

    # A second run finds every mask and does nothing.
    assert tool.main(["--data_dir", str(voc_root), "--data_list", str(three_columns), "--workers", "1"]) == 0
    assert "0 written, 3 already done, 0 failed" in capsys.readouterr().out


def test_folder_mode_in_parallel_mirrors_sub_folders_and_counts_corrupt_images(tool, shared_data, tmp_path,
                                                                                capsys) -> None:
    images = tmp_path / "photos"
    (images / "sub").mkdir(parents=True)
    src = shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages"
    os.symlink(src / f"{IDS[0]}.jpg", images / "a.jpg")
    os.symlink(src / f"{IDS[1]}.jpg", images / "sub" / "b.jpg")
    (images / "broken.jpg").write_bytes((src / f"{IDS[2]}.jpg").read_bytes()[:1500])
    out, ucm = tmp_path / "masks", tmp_path / "ucm"
    argv = ["--image_dir", str(images), "--save_dir", str(out), "--ucm_dir", str(ucm), "--workers", "2",
            "--max_regions", "20"]
    assert tool.main(argv) == 1  # the others are written, and the failure shows in the exit status
    captured = capsys.readouterr()
    assert "3 images: 2 written, 0 already done, 1 failed" in captured.out
    assert "broken.jpg" in captured.err
    mask = _check_mask(out / "sub" / "b.png", images / "sub" / "b.jpg", max_regions=20)
    _check_mask(out / "a.png", images / "a.jpg", max_regions=20)
    # The saved UCM gives back the same mask under the same rule.
    from hsg.evaluation.bsds import read_ucm2
    from hsg.oversegmentation.ucm import threshold_regions

    assert np.array_equal(threshold_regions(read_ucm2(ucm / "sub" / "b.mat"), 20)[0], mask)


def test_list_without_mask_column_uses_the_dataset_layout(tool, voc_root, capsys) -> None:
    lst = voc_root / "one.txt"
    lst.write_text(f"VOC2012/JPEGImages/{IDS[0]}.jpg\n")
    assert tool.main(["--data_dir", str(voc_root), "--data_list", str(lst), "--workers", "1"]) == 0
    assert (voc_root / "VOC2012" / "rf_0.25_48" / f"{IDS[0]}.png").is_file()  # the voc12 default folder
    lst.write_text("photo.jpg\n")
    with pytest.raises(SystemExit) as exc:
        tool.main(["--data_dir", str(voc_root), "--data_list", str(lst), "--dataset", "cityscapes"])
    assert exc.value.code == 1
    assert "one.txt: line 1: cityscapes image path 'photo.jpg' has no 'leftImg8bit' folder" in capsys.readouterr().err


def test_folder_mode_skips_and_counts_a_tiny_image_and_masks_beside_the_photos(tool, shared_data, tmp_path,
                                                                               capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    os.symlink(shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{IDS[0]}.jpg", photos / "a.jpg")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(photos / "dot.png")
    assert tool.main(["--image_dir", str(photos), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "2 images: 1 written, 0 already done, 1 failed" in captured.out
    assert "dot.png" in captured.err and "too small" in captured.err
    assert (photos / "oversegmentation" / "a.png").is_file()  # the default place, where make_lists looks
    # A second run does not take the masks it wrote for photos, and redoes nothing.
    assert tool.main(["--image_dir", str(photos), "--workers", "1"]) == 1
    assert "2 images: 0 written, 1 already done, 1 failed" in capsys.readouterr().out


def test_hed_detector_on_a_small_image(tool, shared_data, tmp_path, capsys) -> None:
    try:
        hed.bundled_weights_path()
    except ImportError as e:
        pytest.skip(str(e))
    images = tmp_path / "small"
    images.mkdir()
    with Image.open(shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{IDS[0]}.jpg") as im:
        im.resize((125, 70)).save(images / "x.jpg")
    assert tool.main(["--image_dir", str(images), "--out_dir", str(tmp_path / "out"), "--detector", "hed",
                      "--workers", "1"]) == 0
    assert "1 written" in capsys.readouterr().out
    _check_mask(tmp_path / "out" / "x.png", images / "x.jpg")
