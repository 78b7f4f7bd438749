"""The field's benchmarks as their downloads lay them out: COCO-Stuff-27 (and 15, 3), COCO panoptic -> 27,
Cityscapes-27, Potsdam-6/3 and KITTI-STEP. Each layout is built small in a temporary folder; lists, labels,
void handling and class maps are checked. Class maps are checked against statements written here by class
*name* (or the COCO panoptic JSON's own supercategories), never against the catalogue's tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from hsg.cli import make_lists
from hsg.config.config import load_config
from hsg.data.catalogue import (CITYSCAPES27_CLASSES, CITYSCAPES_CLASSES, COCOSTUFF3_CLASSES, COCOSTUFF15_CLASSES,
                                COCOSTUFF27_CLASSES, COCOSTUFF_CLASSES, COCOSTUFF_FINE_TO_COARSE,
                                COCOSTUFF_UNUSED_THINGS, DATASETS, POTSDAM3_CLASSES, POTSDAM_CLASSES, class_names,
                                oversegmentation_path)
from hsg.data.datasets import EvalDataset
from hsg.data.io import read_ground_truth, read_image
from hsg.data.lists import read_list
from hsg.data.panoptic import panoptic_to_stuff27, stuff27_of_categories
from hsg.errors import DataError

# ---------------------------------------------------------------------------------------------- statements
# The COCO-Stuff hierarchy by name (cocostuff's cocostuffhierarchy / the COCO category list): supercategory ->
# its fine classes. Written by name so that a shifted index in the catalogue's numeric map shows up.
COCOSTUFF_HIERARCHY = {
    "person": ["person"],
    "vehicle": ["bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"],
    "outdoor": ["traffic light", "fire hydrant", "street sign", "stop sign", "parking meter", "bench"],
    "animal": ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"],
    "accessory": ["hat", "backpack", "umbrella", "shoe", "eye glasses", "handbag", "tie", "suitcase"],
    "sports": ["frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
               "skateboard", "surfboard", "tennis racket"],
    "kitchen": ["bottle", "plate", "wine glass", "cup", "fork", "knife", "spoon", "bowl"],
    "food-things": ["banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
                    "cake"],
    "furniture-things": ["chair", "couch", "potted plant", "bed", "mirror", "dining table", "window", "desk",
                         "toilet", "door"],
    "electronic": ["tv", "laptop", "mouse", "remote", "keyboard", "cell phone"],
    "appliance": ["microwave", "oven", "toaster", "sink", "refrigerator", "blender"],
    "indoor": ["book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush", "hair brush"],
    "textile": ["banner", "blanket", "cloth", "clothes", "curtain", "mat", "napkin", "pillow", "rug",
                "textile-other", "towel"],
    "plant": ["branch", "bush", "flower", "grass", "leaves", "moss", "plant-other", "straw", "tree"],
    "building": ["bridge", "building-other", "house", "roof", "skyscraper", "tent"],
    "furniture-stuff": ["cabinet", "counter", "cupboard", "desk-stuff", "door-stuff", "furniture-other", "light",
                        "mirror-stuff", "shelf", "stairs", "table"],
    "structural": ["cage", "fence", "net", "railing", "structural-other"],
    "raw-material": ["cardboard", "metal", "paper", "plastic"],
    "floor": ["carpet", "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood"],
    "ceiling": ["ceiling-other", "ceiling-tile"],
    "sky": ["clouds", "sky-other"],
    "ground": ["dirt", "gravel", "ground-other", "mud", "pavement", "platform", "playingfield", "railroad", "road",
               "sand", "snow"],
    "water": ["fog", "river", "sea", "water-other", "waterdrops"],
    "food-stuff": ["food-other", "fruit", "salad", "vegetable"],
    "solid": ["hill", "mountain", "rock", "solid-other", "stone", "wood"],
    "wall": ["wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile", "wall-wood"],
    "window": ["window-blind", "window-other"],
}
THING_SUPERCATEGORIES = {"person", "vehicle", "outdoor", "animal", "accessory", "sports", "kitchen", "food-things",
                         "furniture-things", "electronic", "appliance", "indoor"}
# cityscapesScripts labels.py: some labelIds by name.
CITYSCAPES_LABEL_IDS = {"road": 7, "sidewalk": 8, "parking": 9, "rail track": 10, "building": 11, "guard rail": 14,
                        "tunnel": 16, "polegroup": 18, "sky": 23, "person": 24, "caravan": 29, "trailer": 30,
                        "bicycle": 33}
# IIC / STEGO's Potsdam-3 merge, by name.
POTSDAM_MERGE = {"roads": "roads and cars", "cars": "roads and cars", "buildings": "buildings and clutter",
                 "clutter": "buildings and clutter", "low vegetation": "vegetation and trees",
                 "trees": "vegetation and trees"}


def _coarse_name(fine_name: str) -> str:
    return next(sup for sup, names in COCOSTUFF_HIERARCHY.items() if fine_name in names)


# ---------------------------------------------------------------------------------------------- COCO-Stuff maps
def test_cocostuff_182_to_27_follows_the_hierarchy_by_name() -> None:
    assert sum(len(v) for v in COCOSTUFF_HIERARCHY.values()) == 182 == len(COCOSTUFF_CLASSES)
    assert set(COCOSTUFF27_CLASSES) == set(COCOSTUFF_HIERARCHY)
    assert set(COCOSTUFF27_CLASSES[:12]) == THING_SUPERCATEGORIES  # things first, as IIC orders them
    for fine, name in enumerate(COCOSTUFF_CLASSES):
        assert COCOSTUFF27_CLASSES[COCOSTUFF_FINE_TO_COARSE[fine]] == _coarse_name(name), (fine, name)
    assert COCOSTUFF_FINE_TO_COARSE[255] == 255
    # ids 0..90 are things, 91..181 stuff; the unused thing ids are the 11 COCO dropped
    assert {COCOSTUFF_CLASSES[i] for i in COCOSTUFF_UNUSED_THINGS} == {
        "street sign", "hat", "shoe", "eye glasses", "plate", "mirror", "window", "desk", "door", "blender",
        "hair brush"}
    assert all(_coarse_name(COCOSTUFF_CLASSES[i]) in THING_SUPERCATEGORIES for i in range(91))
    assert not any(_coarse_name(COCOSTUFF_CLASSES[i]) in THING_SUPERCATEGORIES for i in range(91, 182))


def test_cocostuff_variants_and_void(tmp_path: Path) -> None:
    names = ["person", "sky-other", "clouds", "tree", "grass", "road", "dirt", "wall-brick", "sea"]
    fine = np.array([[COCOSTUFF_CLASSES.index(n) for n in names] + [255]])
    c27 = read_label(fine, "cocostuff27", tmp_path)[0]
    assert [COCOSTUFF27_CLASSES[c] for c in c27[:-1]] == [_coarse_name(n) for n in names] and c27[-1] == 255
    c15 = read_label(fine, "cocostuff15", tmp_path)[0]
    assert c15[0] == 255 and c15[-1] == 255  # things are void in the stuff-only variant
    assert [COCOSTUFF15_CLASSES[c] for c in c15[1:-1]] == [_coarse_name(n) for n in names[1:]]
    c3 = read_label(fine, "cocostuff3", tmp_path)[0]
    expected3 = {"sky-other": "sky", "clouds": "sky", "tree": "plant", "grass": "plant", "road": "ground",
                 "dirt": "ground"}
    for name, value in zip(names, c3):
        assert (COCOSTUFF3_CLASSES[value] if value != 255 else None) == expected3.get(name), name
    assert c3[-1] == 255


def read_label(values: np.ndarray, label_map: str, folder: Path) -> np.ndarray:
    """Write ``values`` as an 8-bit PNG and read it back through the project's ground-truth reader."""
    path = folder / f"{label_map}.png"
    Image.fromarray(np.asarray(values, dtype=np.uint8)).save(path)
    return read_ground_truth(path, label_map)


def test_cocostuff_value_outside_the_fine_ids_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    Image.fromarray(np.array([[0, 200]], np.uint8)).save(path)
    with pytest.raises(DataError, match=r"bad\.png.*\[200\].*COCO-Stuff fine ids.*cocostuff27"):
        read_ground_truth(path, "cocostuff27")


# ---------------------------------------------------------------------------------------------- COCO panoptic
def test_panoptic_categories_agree_with_the_cocostuff_map(shared_data: Path) -> None:
    """The panoptic JSON states every category's supercategory: where a category is a COCO-Stuff class
    (id <= 182, not merged), the fine id is id - 1 and the catalogue's name and 27-class must agree with it."""
    content = json.loads((shared_data / "samples/coco_panoptic/panoptic_examples.json").read_text())
    checked = 0
    for category in content["categories"]:
        sup = category["supercategory"]
        sup = f"{sup}-things" if category["isthing"] and sup in ("food", "furniture") else sup
        if category["id"] <= 182 and not category["name"].endswith("-merged"):
            fine = category["id"] - 1
            assert COCOSTUFF_CLASSES[fine] == category["name"]
            assert COCOSTUFF27_CLASSES[COCOSTUFF_FINE_TO_COARSE[fine]] == sup, category
            checked += 1
        assert sup in COCOSTUFF27_CLASSES
    assert checked == 116  # the 80 things and 36 stuff classes the panoptic set kept as they are


def test_panoptic_annotations_convert_to_27_classes(shared_data: Path) -> None:
    root = shared_data / "samples/coco_panoptic"
    content = json.loads((root / "panoptic_examples.json").read_text())
    mapping = stuff27_of_categories(content["categories"])
    by_id = {c["id"]: c for c in content["categories"]}
    for record in content["annotations"]:
        rgb = np.asarray(Image.open(root / "panoptic_examples" / record["file_name"]).convert("RGB")).astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        out = panoptic_to_stuff27(ids, record["segments_info"], mapping)
        assert out.dtype == np.uint8 and out.shape == ids.shape
        np.testing.assert_array_equal(out[ids == 0], 255)
        for segment in record["segments_info"]:
            category = by_id[segment["category_id"]]
            values = np.unique(out[ids == segment["id"]])
            name = COCOSTUFF27_CLASSES[int(values[0])]
            assert values.size == 1 and name.removesuffix("-things") == category["supercategory"], category
    bad = [{"id": 1, "name": "x", "supercategory": "vegetables", "isthing": 0}]
    with pytest.raises(DataError, match="vegetables"):
        stuff27_of_categories(bad)


def test_make_lists_coco_panoptic_writes_27_class_labels(shared_data: Path, tmp_path: Path) -> None:
    sample = shared_data / "samples/coco_panoptic"
    root = tmp_path / "coco"
    (root / "annotations/panoptic_val2017").mkdir(parents=True)
    (root / "val2017").mkdir()
    shutil.copy(sample / "panoptic_examples.json", root / "annotations/panoptic_val2017.json")
    for png in (sample / "panoptic_examples").glob("*.png"):
        shutil.copy(png, root / "annotations/panoptic_val2017" / png.name)
        shutil.copy(sample / "input_images" / f"{png.stem}.jpg", root / "val2017" / f"{png.stem}.jpg")
    out = tmp_path / "val.txt"
    assert make_lists.main(["--dataset", "coco_panoptic", "--data_dir", str(root), "--split", "val",
                            "--out", str(out)]) == 0
    samples = read_list(out, str(root))
    assert [Path(s.image).name for s in samples] == ["000000142238.jpg", "000000439180.jpg"]
    label = read_ground_truth(samples[0].semantic_label)  # plain 27-class PNGs: label_map auto
    assert samples[0].semantic_label.endswith("stuff27/val2017/000000142238.png")
    assert set(np.unique(label)) <= set(range(27)) | {255} and (label == COCOSTUFF27_CLASSES.index("person")).any()
    assert label.shape == read_image(samples[0].image).shape[:2]


# ---------------------------------------------------------------------------------------------- layouts
def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _cfg(**dataset) -> object:
    opts = [f"dataset.{k}={v}" for k, v in dataset.items()] + ["test.image_size=0", "test.crop_size=[8,8]",
                                                                "num_workers=0"]
    return load_config(None, opts)


def test_cocostuff_layout_lists_and_labels(tmp_path: Path) -> None:
    root = tmp_path / "cocostuff"
    fine = np.array([[0, 156, 255, 168], [148, 91, 11, 181]], np.uint8)  # person sky - tree / road banner ...
    for split, stems in (("train2017", ["000000000009", "000000000025"]), ("val2017", ["000000000139"])):
        for stem in stems:
            _png(root / "images" / split / f"{stem}.jpg", np.full((2, 4, 3), 90, np.uint8))
            _png(root / "annotations" / split / f"{stem}.png", fine)
    (root / "curated/train2017").mkdir(parents=True)
    (root / "curated/train2017/Coco164kFull_Stuff_Coarse_7.txt").write_text("000000000025\n000000099999\n")
    lists = {}
    for split in ("train2017", "curated_train2017", "val"):
        out = tmp_path / f"{split}.txt"
        assert make_lists.main(["--dataset", "cocostuff", "--data_dir", str(root), "--split", split,
                                "--out", str(out)]) == 0
        lists[split] = read_list(out, str(root))
    assert [Path(s.image).name for s in lists["train2017"]] == ["000000000009.jpg", "000000000025.jpg"]
    assert [Path(s.image).name for s in lists["curated_train2017"]] == ["000000000025.jpg"]  # missing id left out
    assert lists["val"][0].oversegmentation.endswith("oversegmentation/val2017/000000000139.png")
    cfg = _cfg(num_classes=27, label_map="cocostuff27", class_names="cocostuff27", data_dir=str(root))
    item = EvalDataset(cfg, str(root), str(tmp_path / "val.txt"))[0]
    names = [[COCOSTUFF27_CLASSES[v] if v != 255 else None for v in row] for row in item["semantic_label"].tolist()]
    assert names == [["person", "sky", None, "plant"], ["ground", "textile", "outdoor", "solid"]]


def test_cityscapes27_uses_label_ids(tmp_path: Path) -> None:
    root = tmp_path / "Cityscapes"
    names = ["road", "parking", "tunnel", "sky", "caravan", "bicycle"]
    label_ids = np.array([[CITYSCAPES_LABEL_IDS[n] for n in names] + [0, 6]], np.uint8)
    base = "gtFine/val/lindau/lindau_000000_000019"
    _png(root / "leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png", np.zeros((1, 8, 3), np.uint8))
    _png(root / f"{base}_gtFine_labelIds.png", label_ids)
    _png(root / f"{base}_gtFine_labelTrainIds.png", np.zeros((1, 8), np.uint8))
    out19, out27 = tmp_path / "val19.txt", tmp_path / "val27.txt"
    make_lists.main(["--dataset", "cityscapes", "--data_dir", str(root), "--split", "val", "--out", str(out19)])
    make_lists.main(["--dataset", "cityscapes", "--cityscapes_classes", "27", "--data_dir", str(root),
                     "--split", "val", "--out", str(out27)])
    assert read_list(out19, str(root))[0].semantic_label.endswith("_labelTrainIds.png")
    sample = read_list(out27, str(root))[0]
    assert sample.semantic_label.endswith("_gtFine_labelIds.png")
    labels = read_ground_truth(sample.semantic_label, "cityscapes27")[0].tolist()
    assert [CITYSCAPES27_CLASSES[v] for v in labels[:6]] == names and labels[6:] == [255, 255]
    # the same file with the default map gives the 19 trainIds (parking, tunnel and caravan are void there)
    labels19 = read_ground_truth(sample.semantic_label)[0].tolist()
    assert [CITYSCAPES_CLASSES[v] if v != 255 else None for v in labels19[:6]] == \
        ["road", None, None, "sky", None, "bicycle"]
    assert set(CITYSCAPES_CLASSES) < set(CITYSCAPES27_CLASSES)
    with pytest.raises(DataError, match="labelTrainIds.png.*needs the official"):
        read_ground_truth(root / f"{base}_gtFine_labelTrainIds.png", "cityscapes27")


def _potsdam(root: Path) -> None:
    rng = np.random.default_rng(0)
    for image_id, labelled in (("0_0_0", True), ("0_0_1", True), ("unlab_3", False)):
        (root / "imgs").mkdir(parents=True, exist_ok=True)
        savemat(root / "imgs" / f"{image_id}.mat", {"img": rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)})
        if labelled:
            (root / "gt").mkdir(exist_ok=True)
            savemat(root / "gt" / f"{image_id}.mat", {"gt": np.array([[0, 1, 2, 3, 4], [5, 5, 4, 255, 0]] * 2,
                                                                     np.uint8)})
    (root / "labelled_train.txt").write_text("0_0_0\n")
    (root / "labelled_test.txt").write_text("0_0_1\n")
    (root / "unlabelled_train.txt").write_text("unlab_3\n")
    (root / "all.txt").write_text("0_0_0\n0_0_1\nunlab_3\n")


def test_potsdam_layout_mat_images_and_the_3_class_merge(tmp_path: Path) -> None:
    root = tmp_path / "potsdam"
    _potsdam(root)
    out = tmp_path / "all.txt"
    assert make_lists.main(["--dataset", "potsdam", "--data_dir", str(root), "--split", "all", "--out", str(out)]) == 0
    samples = read_list(out, str(root))
    assert [s.semantic_label is not None for s in samples] == [True, True, False]
    assert samples[0].oversegmentation.endswith("oversegmentation/0_0_0.png")
    assert oversegmentation_path("potsdam", "imgs/0_0_0.mat") == "oversegmentation/0_0_0.png"
    image = read_image(samples[0].image)
    raw = __import__("scipy.io", fromlist=["loadmat"]).loadmat(samples[0].image)["img"]
    assert image.dtype == np.uint8 and image.shape == (4, 5, 3)
    np.testing.assert_array_equal(image, raw[..., :3])  # RGB, the IR channel left out
    six = read_ground_truth(samples[0].semantic_label)
    three = read_ground_truth(samples[0].semantic_label, "potsdam3")
    for a, b in zip(six.ravel(), three.ravel()):
        assert (a == 255 and b == 255) or POTSDAM3_CLASSES[b] == POTSDAM_MERGE[POTSDAM_CLASSES[a]]
    cfg = _cfg(num_classes=3, label_map="potsdam3", class_names="potsdam3")
    item = EvalDataset(cfg, str(root), str(out))[2]  # unlabelled: every pixel ignored
    assert (item["semantic_label"] == 255).all() and tuple(item["orig_size"]) == (4, 5)
    savemat(root / "imgs" / "float.mat", {"img": np.full((2, 2, 4), 0.5)})
    assert read_image(root / "imgs" / "float.mat")[0, 0].tolist() == [128, 128, 128]
    savemat(root / "imgs" / "nokey.mat", {"image": np.zeros((2, 2, 3), np.uint8)})
    with pytest.raises(DataError, match=r"nokey\.mat.*no key 'img'"):
        read_image(root / "imgs" / "nokey.mat")
    savemat(root / "gt" / "bad.mat", {"gt": np.array([[7]], np.uint8)})
    with pytest.raises(DataError, match=r"bad\.mat.*\[7\].*Potsdam"):
        read_ground_truth(root / "gt" / "bad.mat", "potsdam3")


def test_kitti_step_semantics_from_the_red_channel(tmp_path: Path) -> None:
    root = tmp_path / "kitti-step"
    _png(root / "images/val/0002/000000.png", np.zeros((1, 4, 3), np.uint8))
    _png(root / "images/val/0002/000001.png", np.zeros((1, 4, 3), np.uint8))
    panoptic = np.array([[[13, 0, 1], [13, 0, 2], [0, 0, 0], [255, 0, 0]]], np.uint8)  # car #1, car #2, road, void
    _png(root / "panoptic_maps/val/0002/000000.png", panoptic)
    out = tmp_path / "val.txt"
    assert make_lists.main(["--dataset", "kitti_step", "--data_dir", str(root), "--split", "val",
                            "--out", str(out)]) == 0
    samples = read_list(out, str(root))
    assert samples[0].semantic_label.endswith("panoptic_maps/val/0002/000000.png") and samples[1].semantic_label is None
    labels = read_ground_truth(samples[0].semantic_label, "kitti_step")[0].tolist()
    assert [CITYSCAPES_CLASSES[v] if v != 255 else None for v in labels] == ["car", "car", "road", None]
    _png(root / "bad.png", np.array([[[40, 0, 0]]], np.uint8))
    with pytest.raises(DataError, match=r"bad\.png.*\[40\].*KITTI-STEP"):
        read_ground_truth(root / "bad.png", "kitti_step")


def test_class_names_of_the_new_datasets() -> None:
    assert class_names("cocostuff27", 27) == COCOSTUFF27_CLASSES
    assert class_names("cityscapes27", 27) == CITYSCAPES27_CLASSES
    assert class_names("potsdam3", 3) == POTSDAM3_CLASSES
    assert class_names("kitti_step", 19) == CITYSCAPES_CLASSES
    assert class_names("auto", 27) is None  # two datasets have 27 classes: no guess
    assert DATASETS["coco"].classes == ()  # the recipe's COCO is unlabelled; it is scored on VOC
    with pytest.raises(ValueError, match="coco classes are 0"):
        class_names("coco", 21)


def test_potsdam_launcher_lists_the_splits(tmp_path: Path) -> None:
    """The launcher's LISTS step on the sample layout (every later step switched off)."""
    import os
    import subprocess
    import sys

    root = tmp_path / "potsdam"
    _potsdam(root)
    launcher = Path(__file__).resolve().parents[1] / "bashscripts/potsdam/train.sh"
    env = {**os.environ, "PYTHON": sys.executable, "DATAROOT": str(root), "SNAPSHOT_DIR": str(tmp_path / "snap"),
           **{f"RUN_{step}": "0" for step in ("OVERSEG", "TRAIN1", "READOUT1", "TRAIN2", "READOUT2")}}
    done = subprocess.run(["bash", str(launcher)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lists = tmp_path / "snap/lists"
    assert len(read_list(lists / "potsdam_all.txt", str(root))) == 3
    assert [Path(s.image).name for s in read_list(lists / "potsdam_memory.txt", str(root))] == ["0_0_0.mat"]
    assert [Path(s.image).name for s in read_list(lists / "potsdam_test.txt", str(root))] == ["0_0_1.mat"]
