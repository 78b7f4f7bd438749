"""Every kind of bad input names the file and the list line; the skip switch skips loudly, never silently."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hsg.config.config import get_default_config
from hsg.errors import BadSampleWarning, DataError
from hsg.data.datasets import EvalDataset, TrainDataset
from hsg.data.io import read_image, read_label_map
from hsg.data.lists import read_list
from hsg.data.loader import build_train_loader
from hsg.data.catalogue import CITYSCAPES_LABEL_TO_TRAIN as LABEL_TO_TRAIN

IDS = ("2007_000032", "2007_000039", "2007_000063")


@pytest.fixture(scope="module")
def files(shared_data: Path, tmp_path_factory) -> dict[str, Path]:
    """Good and broken copies of real VOC files in a tmp folder."""
    voc = shared_data / "VOCdevkit" / "VOC2012"
    d = tmp_path_factory.mktemp("bad_input")
    out: dict[str, Path] = {}
    for i, image_id in enumerate(IDS):
        out[f"image{i}"] = voc / "JPEGImages" / f"{image_id}.jpg"
        out[f"gt{i}"] = voc / "segcls" / f"{image_id}.png"
        region = np.asarray(Image.open(out[f"gt{i}"])).astype(np.uint16) + 1
        out[f"region{i}"] = d / f"region{i}.png"
        Image.fromarray(region).save(out[f"region{i}"])
    data = out["image0"].read_bytes()
    out["truncated"] = d / "truncated.jpg"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["garbage"] = d / "garbage.jpg"
    out["garbage"].write_bytes(b"this is not an image at all" * 10)
    png = out["region0"].read_bytes()
    out["truncated_png"] = d / "truncated_region.png"
    out["truncated_png"].write_bytes(png[: len(png) // 2])
    gt = np.asarray(Image.open(out["gt0"])).copy()
    gt[:5, :5] = 30
    out["gt_out_of_range"] = d / "gt_out_of_range.png"
    Image.fromarray(gt).save(out["gt_out_of_range"])
    negative = np.asarray(Image.open(out["region2"])).astype(np.int32)
    negative[0, 0] = -3
    out["region_negative"] = d / "region_negative.tif"
    Image.fromarray(negative).save(out["region_negative"])
    ids = np.full(gt.shape, 7, np.uint8)
    ids[0, 0] = 40
    out["cs_bad"] = d / "x_gtFine_labelIds.png"
    Image.fromarray(ids).save(out["cs_bad"])
    out["dir"] = d
    return out


def write(d: Path, name: str, lines: list[str]) -> Path:
    path = d / name
    path.write_text("\n".join(lines) + "\n")
    return path


def line3(files: dict[str, Path], image: str = "image2", gt: str = "gt2", region: str = "region2") -> str:
    return f"{files[image]} {files[gt]} {files[region]}"


def good_lines(files: dict[str, Path]) -> list[str]:
    return [f"{files[f'image{i}']} {files[f'gt{i}']} {files[f'region{i}']}" for i in range(2)]


def raises_at(path_part: Path | str, list_file: Path, line: int):
    """pytest.raises for a DataError naming the file and list_file:line."""
    return pytest.raises(DataError, match=rf"{re.escape(str(path_part))}.*{re.escape(f'{list_file}:{line}')}")


def cfg(skip: bool = False):
    c = get_default_config()
    c.dataset.skip_bad_samples = skip
    c.train.crop_size = [64, 64]
    c.test.image_size = 64
    c.test.crop_size = [64, 64]
    return c


# ------------------------------------------------------------------------------------------ list files
def test_missing_file_is_found_at_start(files):
    d = files["dir"]
    missing = d / "nope.jpg"
    lst = write(d, "missing.txt", good_lines(files) + [f"{missing} {files['gt2']} {files['region2']}"])
    with raises_at(missing, lst, 3):
        TrainDataset(cfg(), "", str(lst))
    lst = write(d, "missing_region.txt", good_lines(files) + [f"{files['image2']} {files['gt2']} {d / 'r.png'}"])
    with raises_at(d / "r.png", lst, 3):
        TrainDataset(cfg(), "", str(lst))
    lst = write(d, "missing_gt.txt", [f"{files['image2']} {d / 'gt.png'}"])
    with raises_at(d / "gt.png", lst, 1):
        EvalDataset(cfg(), "", str(lst))


def test_wrong_number_of_columns(files):
    d = files["dir"]
    lst = write(d, "four.txt", good_lines(files) + [line3(files) + " extra"])
    with pytest.raises(DataError, match=rf"{re.escape(str(lst))}: line 3 has 4 columns"):
        read_list(lst, "")
    lst = write(d, "one.txt", good_lines(files) + [str(files["image2"])])
    with pytest.raises(DataError, match=rf"{re.escape(str(lst))}: line 3 has no oversegmentation column"):
        TrainDataset(cfg(), "", str(lst))
    # Comments and blank lines are not samples and keep line numbers right.
    lst = write(d, "comments.txt", ["# header", ""] + good_lines(files) + [line3(files) + " x"])
    with pytest.raises(DataError, match="line 5 has 4 columns"):
        read_list(lst, "")


def test_empty_list_and_missing_list(files):
    d = files["dir"]
    lst = write(d, "empty.txt", ["# only a comment", "   "])
    with pytest.raises(DataError, match=rf"{re.escape(str(lst))}: the list file has no samples"):
        TrainDataset(cfg(), "", str(lst))
    with pytest.raises(DataError, match=r"no_such_list\.txt: list file not found"):
        EvalDataset(cfg(), "", str(d / "no_such_list.txt"))
    with pytest.raises(DataError, match="data directory not found"):
        read_list(write(d, "ok.txt", good_lines(files)), d / "no_root")


def test_relative_paths_and_absent_columns(files, shared_data):
    d = files["dir"]
    lst = write(d, "rel.txt", [f"VOC2012/JPEGImages/{IDS[0]}.jpg - {files['region0']}",
                               f"VOC2012/JPEGImages/{IDS[1]}.jpg"])
    samples = read_list(lst, shared_data / "VOCdevkit")
    assert samples[0].image == str(shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages" / f"{IDS[0]}.jpg")
    assert samples[0].semantic_label is None and samples[0].oversegmentation == str(files["region0"])
    assert samples[1].oversegmentation is None and samples[1].line == 2 and samples[1].where == f"{lst}:2"
    assert samples[1].name == f"VOC2012/JPEGImages/{IDS[1]}"


# ------------------------------------------------------------------------------------------ file contents
@pytest.mark.parametrize("image,region,message", [
    ("truncated", "region2", "unreadable or truncated image"),
    ("garbage", "region2", "unreadable or truncated image"),
    ("image2", "truncated_png", "unreadable or truncated image"),
    ("image2", "region0", "differs from the image"),
    ("image2", "region_negative", "negative region ids"),
])
def test_bad_training_sample(files, image, region, message):
    d = files["dir"]
    lst = write(d, f"train_{image}_{region}.txt", good_lines(files) + [line3(files, image=image, region=region)])
    ds = TrainDataset(cfg(), "", str(lst))
    ds[0]
    bad_file = files[region] if image == "image2" else files[image]
    expected = rf"{re.escape(str(bad_file))} \(listed at {re.escape(str(lst))}:3\): .*{message}"
    with pytest.raises(DataError, match=expected):
        ds[2]


@pytest.mark.parametrize("gt,message", [
    ("gt_out_of_range", r"labels out of range: \[30\]"),
    ("gt1", "differs from the image"),  # 500x375 against the 500x281 image0
    ("cs_bad", r"values \[40\] are not Cityscapes labelIds"),
])
def test_bad_evaluation_label(files, gt, message):
    lst = write(files["dir"], f"eval_{gt}.txt", [line3(files, image="image0", gt=gt)])
    ds = EvalDataset(cfg(), "", str(lst))
    with raises_at(files[gt], lst, 1) as info:
        ds[0]
    assert re.search(message, str(info.value))


def test_readers_name_the_file(files):
    with pytest.raises(DataError, match=re.escape(str(files["truncated"]))):
        read_image(files["truncated"])
    with pytest.raises(DataError, match="file not found"):
        read_label_map(files["dir"] / "nothing.png", where="l.txt:9")
    assert read_image(files["image0"]).dtype == np.uint8 and read_image(files["image0"]).shape[2] == 3
    assert read_label_map(files["gt0"]).dtype == np.uint8  # the file's own integer type


def test_error_survives_a_worker_process(files):
    """A DataError raised in a DataLoader worker reaches the main process as the same one line as without
    workers (not the worker's traceback)."""
    lst = write(files["dir"], "worker.txt", [line3(files, image="garbage")] * 2)
    messages = []
    for workers in (0, 1):
        c = cfg()
        c.num_workers = workers
        loader = build_train_loader(c, TrainDataset(c, "", str(lst)), 0, 1, 1, 0)
        with pytest.raises(DataError, match=r"garbage\.jpg \(listed at .*worker\.txt:1\)") as error:
            next(iter(loader))
        messages.append(str(error.value))
    assert messages[1] == messages[0] and "\n" not in messages[1]


def test_cityscapes_table():
    train_ids = LABEL_TO_TRAIN[LABEL_TO_TRAIN != 255]
    assert sorted(train_ids.tolist()) == list(range(19))
    assert LABEL_TO_TRAIN[7] == 0 and LABEL_TO_TRAIN[26] == 13 and LABEL_TO_TRAIN[33] == 18
    assert LABEL_TO_TRAIN[[0, 6, 9, 10, 14, 15, 16, 18, 29, 30]].tolist() == [255] * 10


# ------------------------------------------------------------------------------------------ skipping
def test_skip_bad_training_samples(files):
    d = files["dir"]
    lst = write(d, "skip.txt", good_lines(files) + [line3(files, image="truncated"),
                                                     f"{d / 'gone.jpg'} - {files['region0']}",
                                                     line3(files, region="region0")])
    ds = TrainDataset(cfg(skip=True), "", str(lst))  # the missing file does not stop construction
    with pytest.warns(BadSampleWarning) as record:
        for index in range(len(ds)):
            item = ds[index]
            assert item["image"].shape == (2, 3, 64, 64)
            assert item["image_id"].tolist() == [index, index]
    assert len(record) == 3
    assert [s.line for s in ds.bad_samples] == [3, 4, 5]
    assert f"{lst}:4" in str(ds.bad_samples[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known bad samples are not warned about again
        ds[3]


def test_skip_count_is_shared_by_workers(files):
    d = files["dir"]
    lst = write(d, "skip_workers.txt", good_lines(files) * 2 + [line3(files, image="garbage")] * 2)
    c = cfg(skip=True)
    c.num_workers = 2
    ds = TrainDataset(c, "", str(lst))
    loader = build_train_loader(c, ds, 0, 1, 2, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(loader)
    assert len(batches) == 3
    assert sorted(s.line for s in ds.bad_samples) == [5, 6]  # marked in the workers, seen here


def test_skip_everything_bad_raises(files):
    lst = write(files["dir"], "all_bad.txt", [line3(files, image="garbage")] * 2)
    ds = TrainDataset(cfg(skip=True), "", str(lst))
    with pytest.warns(BadSampleWarning), pytest.raises(DataError, match="every sample of the list is bad"):
        ds[0]


def test_skip_bad_evaluation_samples_drops_them(files):
    d = files["dir"]
    lst = write(d, "eval_skip.txt", [line3(files, image="image0", gt="gt0"),
                                     line3(files, image="image0", gt="gt_out_of_range"),
                                     f"{d / 'gone.jpg'} {files['gt0']}",
                                     line3(files, image="image1", gt="gt1")])
    with pytest.warns(BadSampleWarning) as record:
        ds = EvalDataset(cfg(skip=True), "", str(lst))
    assert "eval_skip.txt:2): labels out of range" in str(record[0].message)
    assert "gone.jpg (listed at" in str(record[1].message) and "file not found" in str(record[1].message)
    assert len(ds) == 2 and [s.line for s in ds.samples] == [1, 4]
    assert [s.line for s in ds.bad_samples] == [2, 3]
    assert ds[1]["name"].endswith(IDS[1])


def test_exif_orientation_is_ignored(files):
    """Pixels are read as stored (as PIL, the original's reader, does), so masks made from them align."""
    image = read_image(files["image0"])
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees" tag
    path = files["dir"] / "rotated_tag.jpg"
    Image.fromarray(image).save(path, exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == image.shape
    assert np.abs(out.astype(int) - image.astype(int)).mean() < 3  # JPEG re-encoding noise only


def test_output_names_stay_inside_the_output_folder():
    """An image outside the data root (absolute, or reached with '..') is named by its file name alone, so
    outputs written under <folder>/<name> can never land beside the data."""
    from hsg.data.lists import sample_name

    assert sample_name("/data/shared/VOC2012/JPEGImages/a.jpg", "") == "a"
    assert sample_name("/data/shared/VOC2012/JPEGImages/a.jpg", "/data/shared") == "VOC2012/JPEGImages/a"
    assert sample_name("/elsewhere/a.jpg", "/data") == "a"
    assert sample_name("../up/a.jpg", "/data") == "a"
    assert sample_name("trip/./day 2/a.png", "/data") == "trip/day 2/a"
