"""Training and evaluation datasets on real VOC, Cityscapes and COCO samples: shapes, dtypes, values.

VOC has no over-segmentations in ../shared, so the ground-truth segments (+1, as uint16) stand in for
one; Cityscapes uses its instanceIds map (ids up to 26002) and COCO its panoptic PNG (RGB-encoded ids in
the millions): both are region maps with real ids beyond the original's 2048 packing divisor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hsg.config.config import get_default_config
from hsg.data.datasets import EvalDataset, TrainDataset, eval_collate, train_collate
from hsg.data.io import read_label_map
from hsg.data.lists import write_list
from hsg.errors import DataError

CS_NAME = "frankfurt_000000_000294"
PORTRAIT = "2007_000549"  # 375x500: its canvas differs from the landscape images'


def voc_ids(shared_data: Path, n: int) -> list[str]:
    lines = (shared_data / "VOCdevkit" / "train_mini.txt").read_text().split("\n")
    return [Path(line.split()[0]).stem for line in lines[:n]]


@pytest.fixture(scope="module")
def voc(shared_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(data_dir, list): 4 VOC images (one portrait), their GT, and GT+1 as a uint16 region map."""
    root = shared_data / "VOCdevkit"
    out = tmp_path_factory.mktemp("voc_regions")
    rows = []
    for image_id in voc_ids(shared_data, 2) + [PORTRAIT, voc_ids(shared_data, 3)[2]]:
        gt = np.asarray(Image.open(root / "VOC2012" / "segcls" / f"{image_id}.png")).astype(np.uint16) + 1
        Image.fromarray(gt).save(out / f"{image_id}.png")
        rows.append((f"VOC2012/JPEGImages/{image_id}.jpg", f"VOC2012/segcls/{image_id}.png",
                     str(out / f"{image_id}.png")))
    write_list(out / "list.txt", rows)
    return root, out / "list.txt"


@pytest.fixture(scope="module")
def cityscapes(shared_data: Path, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(data_dir, list with labelIds, list with labelTrainIds); instanceIds as the region map."""
    root = shared_data / "samples" / "cityscapes"
    out = tmp_path_factory.mktemp("cs_lists")
    image = f"leftImg8bit/val/frankfurt/{CS_NAME}_leftImg8bit.png"
    gt = f"gtFine/val/frankfurt/{CS_NAME}_gtFine"
    write_list(out / "ids.txt", [(image, f"{gt}_labelIds.png", f"{gt}_instanceIds.png")])
    write_list(out / "train_ids.txt", [(image, f"{gt}_labelTrainIds.png", f"{gt}_instanceIds.png")])
    return root, out / "ids.txt", out / "train_ids.txt"


@pytest.fixture(scope="module")
def coco(shared_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    root = shared_data / "samples" / "coco_panoptic"
    out = tmp_path_factory.mktemp("coco_lists")
    rows = [(f"input_images/{i}.jpg", "-", f"panoptic_examples/{i}.png") for i in ("000000142238", "000000439180")]
    write_list(out / "list.txt", rows)
    return root, out / "list.txt"


def config(**overrides):
    cfg = get_default_config()
    for key, value in overrides.items():
        section, name = key.split("__")
        cfg[section][name] = value
    return cfg


def check_train_item(item: dict, index: int, crop: int, region_ids: np.ndarray) -> None:
    assert set(item) == {"image", "oversegmentation", "image_id"}
    assert item["image"].shape == (2, 3, crop, crop) and item["image"].dtype == torch.float32
    assert item["oversegmentation"].shape == (2, crop, crop) and item["oversegmentation"].dtype == torch.int64
    assert item["image_id"].dtype == torch.int64 and item["image_id"].tolist() == [index, index]
    assert torch.isfinite(item["image"]).all()
    # About N(0, 1) after normalisation, not [0, 255] or [0, 1].
    assert -3.0 < float(item["image"].min()) < 0.0 < float(item["image"].max()) < 3.0
    ids = np.unique(item["oversegmentation"].numpy())
    assert set(ids.tolist()) <= set(region_ids.tolist()) | {-1}
    assert (ids >= 0).any()
    assert not torch.equal(item["image"][0], item["image"][1])  # two independent views


def test_train_items_voc(voc):
    root, lst = voc
    ds = TrainDataset(config(), str(root), str(lst))
    assert len(ds) == 4
    for index in range(len(ds)):
        region = read_label_map(ds.samples[index].oversegmentation, rgb_ids=True)
        check_train_item(ds[index], index, 224, np.unique(region))


def test_train_items_cityscapes_keep_large_ids(cityscapes, shared_data):
    root, lst, _ = cityscapes
    ds = TrainDataset(config(train__crop_size=[96, 96]), str(root), str(lst))
    region = read_label_map(root / f"gtFine/val/frankfurt/{CS_NAME}_gtFine_instanceIds.png")
    assert region.max() > 2048
    seen = set()
    for _ in range(4):
        item = ds[0]
        check_train_item(item, 0, 96, np.unique(region))
        seen |= set(np.unique(item["oversegmentation"].numpy()).tolist())
    assert max(seen) > 2048  # ids past the original's 2048 divisor arrive intact


def test_train_items_coco_panoptic_ids(coco):
    root, lst = coco
    ds = TrainDataset(config(train__crop_size=[448, 448]), str(root), str(lst))
    for index in range(2):
        region = read_label_map(ds.samples[index].oversegmentation, rgb_ids=True)
        assert region.max() > 65535  # RGB-encoded ids do not fit 16 bits
        check_train_item(ds[index], index, 448, np.unique(region))


def test_train_collate_interleaves_views(voc):
    root, lst = voc
    ds = TrainDataset(config(), str(root), str(lst))
    ds.seed(7)
    items = [ds[i] for i in (2, 0, 3)]
    batch = train_collate(items)
    assert batch["image"].shape == (6, 3, 224, 224) and batch["oversegmentation"].shape == (6, 224, 224)
    assert batch["image_id"].tolist() == [2, 2, 0, 0, 3, 3]
    for k, item in enumerate(items):
        for view in range(2):
            assert torch.equal(batch["image"][2 * k + view], item["image"][view])
            assert torch.equal(batch["oversegmentation"][2 * k + view], item["oversegmentation"][view])


def test_train_geometry_is_returned_on_request(voc):
    root, lst = voc
    ds = TrainDataset(config(), str(root), str(lst), return_geometry=True)
    item = ds[1]
    assert len(item["geometry"]) == 2
    for view, geom in enumerate(item["geometry"]):
        vh, vw = geom.valid
        assert (item["oversegmentation"][view, vh:] == -1).all() and (item["oversegmentation"][view, :, vw:] == -1).all()
        assert (item["oversegmentation"][view, :vh, :vw] >= 1).all()


# ------------------------------------------------------------------------------------------ evaluation
def test_eval_item_voc(voc):
    root, lst = voc
    ds = EvalDataset(config(), str(root), str(lst), with_oversegmentation=True)
    item = ds[0]
    sample = ds.samples[0]
    gt = np.asarray(Image.open(sample.semantic_label)).astype(np.int64)
    h0, w0 = gt.shape
    assert item["orig_size"] == (h0, w0)
    h, w = item["valid_size"]
    assert max(h, w) == 512 and (h, w) == (int(512 / max(h0, w0) * h0), int(512 / max(h0, w0) * w0))
    assert item["image"].shape == (3, 512, 512) and item["image"].dtype == torch.float32
    assert (item["image"][:, h:] == 0).all() and (item["image"][:, :, w:] == 0).all()
    assert item["image"][:, :h, :w].abs().sum() > 0
    assert item["semantic_label"].dtype == torch.int64 and torch.equal(item["semantic_label"], torch.from_numpy(gt))
    region = item["oversegmentation"]
    assert region.shape == (512, 512) and region.dtype == torch.int64
    assert (region[h:] == -1).all() and (region[:, w:] == -1).all() and (region[:h, :w] >= 1).all()
    assert item["name"] == sample.name == f"VOC2012/JPEGImages/{Path(sample.image).stem}"
    assert item["image_path"] == sample.image


def test_eval_without_label_column_is_all_ignore(coco):
    root, lst = coco
    ds = EvalDataset(config(), str(root), str(lst))
    item = ds[0]
    assert item["oversegmentation"] is None
    assert (item["semantic_label"] == 255).all() and item["semantic_label"].shape == item["orig_size"]


def test_eval_cityscapes_label_ids_become_train_ids(cityscapes):
    root, ids_list, train_ids_list = cityscapes
    cfg = config(dataset__num_classes=19, test__image_size=256, test__crop_size=[128, 256])
    a = EvalDataset(cfg, str(root), str(ids_list))[0]
    b = EvalDataset(cfg, str(root), str(train_ids_list))[0]
    expected = np.asarray(Image.open(root / f"gtFine/val/frankfurt/{CS_NAME}_gtFine_labelTrainIds.png"))
    label_ids = np.asarray(Image.open(root / f"gtFine/val/frankfurt/{CS_NAME}_gtFine_labelIds.png"))
    converted = a["semantic_label"].numpy()
    assert torch.equal(b["semantic_label"], torch.from_numpy(expected.astype(np.int64)))
    # The sample's two files were downscaled separately, so 77 boundary pixels disagree; every labelId
    # present must map to the trainId the official file holds for (nearly) all of its pixels.
    assert (converted == expected).mean() > 0.995
    for label_id in np.unique(label_ids):
        values, counts = np.unique(expected[label_ids == label_id], return_counts=True)
        assert np.unique(converted[label_ids == label_id]).tolist() == [values[counts.argmax()]]
    assert set(np.unique(converted).tolist()) <= set(range(19)) | {255}
    assert a["image"].shape == (3, 128, 256) and a["valid_size"] == (128, 256)


def test_eval_canvas_grows_past_the_crop_and_collate_pads(voc):
    root, lst = voc
    ds = EvalDataset(config(test__image_size=600, test__crop_size=[512, 512]), str(root), str(lst), with_oversegmentation=True)
    items = [ds[i] for i in range(3)]
    for item in items:
        h, w = item["valid_size"]
        assert item["image"].shape[1:] == (max(h, 512), max(w, 512))
    assert len({i["image"].shape for i in items}) == 2  # landscape and portrait canvases
    batch = eval_collate(items)
    hs = max(i["image"].shape[1] for i in items)
    ws = max(i["image"].shape[2] for i in items)
    assert batch["image"].shape == (3, 3, hs, ws)
    for k, item in enumerate(items):
        _, h, w = item["image"].shape
        assert torch.equal(batch["image"][k, :, :h, :w], item["image"])
        assert (batch["image"][k, :, h:] == 0).all() and (batch["image"][k, :, :, w:] == 0).all()
        assert torch.equal(batch["oversegmentation"][k, :h, :w], item["oversegmentation"])
        assert (batch["oversegmentation"][k, h:] == -1).all() and (batch["oversegmentation"][k, :, w:] == -1).all()
    assert batch["oversegmentation"].dtype == torch.int64 and batch["oversegmentation"].shape == (3, hs, ws)
    assert batch["valid_size"] == [i["valid_size"] for i in items]
    assert [t.shape for t in batch["semantic_label"]] == [i["semantic_label"].shape for i in items]
    assert batch["name"] == [i["name"] for i in items]


def test_shared_two_column_list(shared_data):
    """The shared VOC list (image label) is an evaluation list as it is, and no training list."""
    root = shared_data / "VOCdevkit"
    ds = EvalDataset(config(test__image_size=128, test__crop_size=[128, 128]), str(root), str(root / "train_mini.txt"))
    assert len(ds) == 330
    item = ds[5]
    assert item["image"].shape == (3, 128, 128) and (item["semantic_label"] < 255).any()
    with pytest.raises(DataError, match=r"train_mini\.txt: line 1 has no oversegmentation column"):
        TrainDataset(config(), str(root), str(root / "train_mini.txt"))


def test_one_bit_label_png_keeps_class_one_in_the_dataset_and_in_eval(tmp_path):
    """A 1-bit (mode "1") ground truth: class 1 stays 1 for the memory/prototype path (the dataset) and for
    scoring, read by the one label reader (PIL's convert("L") would have made it 255, the ignore value)."""
    from hsg.evaluation.pairs import pair_by_folder, score_pairs

    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:50] = True
    Image.fromarray(mask).convert("1").save(tmp_path / "gt.png")
    assert Image.open(tmp_path / "gt.png").mode == "1"
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(tmp_path / "img.png")
    (tmp_path / "l.txt").write_text("img.png gt.png\n")
    cfg = config(test__image_size=60, test__crop_size=[60, 60], dataset__num_classes=2)
    label = EvalDataset(cfg, str(tmp_path), str(tmp_path / "l.txt"))[0]["semantic_label"]
    assert torch.equal(label, torch.from_numpy(mask.astype(np.int64)))
    (tmp_path / "pred").mkdir()
    Image.fromarray(mask.astype(np.uint8)).save(tmp_path / "pred" / "gt.png")
    confusion = score_pairs(pair_by_folder(tmp_path / "pred", tmp_path).pairs, num_classes=2, workers=1)
    assert confusion[:, :2].tolist() == [[int((~mask).sum()), 0], [0, int(mask.sum())]]


def test_full_resolution_is_bounded_by_test_max_pixels(voc):
    """``test.image_size: 0`` keeps the image's size up to ``test.max_pixels`` pixels, then scales it down
    with its aspect ratio: a huge photo cannot exhaust memory; the ground truth stays at the file's size."""
    root, lst = voc
    ds = EvalDataset(config(test__image_size=0), str(root), str(lst))
    item = ds[0]
    assert item["valid_size"] == item["orig_size"]
    h0, w0 = item["orig_size"]
    bound = (h0 * w0) // 5
    bounded = EvalDataset(config(test__image_size=0, test__max_pixels=bound), str(root), str(lst))[0]
    h, w = bounded["valid_size"]
    assert h * w <= bound and h * w > 0.98 * bound
    assert abs(h / w - h0 / w0) < 0.01
    assert bounded["orig_size"] == (h0, w0) and bounded["semantic_label"].shape == (h0, w0)
    assert bounded["image"].shape[1:] == (max(h, 512), max(w, 512))
