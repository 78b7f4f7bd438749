"""The field's read-outs: linear probe, overclustering, the unsupervised (Hungarian) read-out, the dense CRF
option and one results file per read-out, on a constructed dataset where the right answers are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hsg.config.config import load_config
from hsg.evaluation.crf import crf_available
from hsg.evaluation.hungarian import majority_clusters, match_clusters
from hsg.evaluation.pairs import Pair, pair_by_folder
from hsg.evaluation.report import evaluate_pairing
from hsg.inference.readout import crf_refine, run_readouts, sample_pixels, train_linear_probe

COLOURS = np.array([[230, 20, 20], [20, 230, 20], [20, 20, 230]], np.uint8)  # class 0 red, 1 green, 2 blue


class BlockSegmenter:
    """Segments are 2x2 blocks; a segment's feature is its mean (normalised) colour, a pixel's embedding its
    colour: both separate the classes, linearly and by direction."""

    needs_oversegmentation = False

    def __call__(self, batch):
        out = []
        for i, (h, w) in enumerate(batch["valid_size"]):
            image = batch["image"][i, :, :h, :w]
            ids = (torch.arange(h)[:, None] // 2) * ((w + 1) // 2) + torch.arange(w)[None] // 2
            used, dense = torch.unique(ids, return_inverse=True)
            sums = torch.zeros(len(used), 3).index_add_(0, dense.reshape(-1), image.reshape(3, -1).t())
            out.append((dense, torch.nn.functional.normalize(sums, dim=1)))
        return out

    def embed_pixels(self, batch):
        return batch["image"]


def _dataset(root: Path, count: int = 6, seed: int = 0) -> tuple[str, str]:
    """Images of 12x12 pixels in vertical stripes of 4 (classes in a random order per image), colour noise, a
    2-pixel ignored border row in the labels; the first 4 are the memory, the last 2 the test list."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "gt").mkdir(exist_ok=True)
    lines = []
    for i in range(count):
        order = rng.permutation(3)
        label = np.repeat(np.repeat(order[None], 12, axis=0), 4, axis=1).astype(np.uint8)
        image = np.clip(COLOURS[label].astype(int) + rng.integers(-15, 16, label.shape + (3,)), 0, 255)
        label[:2] = 255
        Image.fromarray(image.astype(np.uint8)).save(root / "img" / f"im{i}.png")
        Image.fromarray(label).save(root / "gt" / f"im{i}.png")
        lines.append(f"img/im{i}.png gt/im{i}.png")
    (root / "memory.txt").write_text("\n".join(lines[:4]) + "\n")
    (root / "test.txt").write_text("\n".join(lines[4:]) + "\n")
    return str(root / "memory.txt"), str(root / "test.txt")


def _cfg(*opts: str):
    return load_config(None, ["dataset.num_classes=3", "dataset.class_names=none", "test.image_size=0",
                              "test.crop_size=[12,12]", "test.stride=[12,12]", "num_workers=0",
                              "test.cluster_restarts=5", "test.knn=1", "test.linear_epochs=30",
                              "test.linear_batch_size=64", "test.linear_lr=0.1", *opts])


def test_every_readout_scores_100_on_a_separable_dataset_and_writes_one_results_file_each(tmp_path: Path) -> None:
    memory, test = _dataset(tmp_path / "data")
    save = tmp_path / "out"
    summary = run_readouts(_cfg(), BlockSegmenter(), str(tmp_path / "data"), test, save,
                           ("knn", "cluster", "overcluster", "linear"), memory_list=memory)
    for readout in ("knn", "cluster", "overcluster", "linear"):
        assert summary[readout]["miou"] == pytest.approx(100.0), readout
        assert summary[readout]["pixel_acc"] == pytest.approx(100.0), readout
    # the cluster ids are a renaming of the classes (a permuted perfect prediction), matched back to 100
    report = json.loads((save / "test/eval_cluster.json").read_text())
    assert sorted(report["cluster_to_class"].values()) == [0, 1, 2]
    over = json.loads((save / "test/eval_overcluster.json").read_text())
    assert over["mode"] == "overcluster" and over["num_clusters"] > 3  # k = 9 by default, several per class
    for name, readout in (("unsupervised", "cluster"), ("unsupervised_overcluster", "overcluster"),
                          ("linear", "linear"), ("knn_vote", "knn")):
        result = json.loads((save / f"{name}.json").read_text())
        assert result["readout"] == readout and result["protocol"] == name and not result["crf"]
        assert set(result) >= {"miou", "pixel_acc", "per_class_iou"} and len(result["per_class_iou"]) == 3
    linear = np.asarray(Image.open(save / "test/linear_gray/im4.png"))
    assert linear.shape == (12, 12)


def test_linear_probe_reaches_100_on_a_linearly_separable_embedding_and_is_deterministic() -> None:
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 4, (600,), generator=g)
    # classes separated along a direction of their own, plus noise in 6 other dimensions: linearly separable,
    # not separable by any one coordinate alone
    directions = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    features = 3 * directions[labels] + 0.3 * torch.randn(600, 8, generator=g)
    probe = train_linear_probe(features, labels, 4, epochs=40, lr=0.05, batch_size=128, weight_decay=0.0, seed=0)
    accuracy = (probe(features).argmax(1) == labels).float().mean().item()
    assert accuracy == 1.0
    again = train_linear_probe(features, labels, 4, epochs=40, lr=0.05, batch_size=128, weight_decay=0.0, seed=0)
    assert torch.equal(probe.weight, again.weight) and torch.equal(probe.bias, again.bias)
    other = train_linear_probe(features, labels, 4, epochs=40, lr=0.05, batch_size=128, weight_decay=0.0, seed=1)
    assert not torch.equal(probe.weight, other.weight)  # the seed draws the mini-batch order
    with pytest.raises(ValueError, match="no labelled pixels"):
        train_linear_probe(features[:0], labels[:0], 4, 1, 0.1, 8, 0.0, 0)


def test_probe_samples_at_most_its_budget_of_labelled_pixels() -> None:
    embedding = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6)
    label = torch.full((5, 6), 255)
    label[1:3] = 1
    label[4, :2] = 0
    x, y = sample_pixels(embedding, label, 3, 7, torch.Generator().manual_seed(0))
    assert x.shape == (7, 2) and set(y.tolist()) <= {0, 1}
    x, y = sample_pixels(embedding, label, 3, 100, torch.Generator().manual_seed(0))
    assert x.shape == (14, 2) and sorted(y.tolist()) == [0, 0] + [1] * 12  # every labelled pixel, no ignore
    flat = embedding.reshape(2, -1)
    for feature, cls in zip(x, y):  # each sampled feature is the embedding of a pixel of that class
        pixel = int((flat[0] == feature[0]).nonzero())
        assert label.reshape(-1)[pixel] == cls and flat[1, pixel] == feature[1]


def test_overclustering_with_as_many_clusters_as_classes_is_the_cluster_readout(tmp_path: Path) -> None:
    memory, test = _dataset(tmp_path / "data")
    save = tmp_path / "out"
    summary = run_readouts(_cfg("test.overcluster_k=3"), BlockSegmenter(), str(tmp_path / "data"), test, save,
                           ("cluster", "overcluster"))
    for name in ("im4.png", "im5.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(save / "test/cluster_gray" / name)),
                                      np.asarray(Image.open(save / "test/overcluster_gray" / name)))
    reports = {r: json.loads((save / f"test/eval_{r}.json").read_text()) for r in ("cluster", "overcluster")}
    assert reports["cluster"]["cluster_to_class"] == reports["overcluster"]["cluster_to_class"]
    assert summary["cluster"]["miou"] == summary["overcluster"]["miou"]
    # the two mappings on a constructed confusion (classes x clusters) with a distinct majority per cluster
    confusion = np.array([[1, 50, 3], [40, 2, 9], [5, 4, 30]])
    assert majority_clusters(confusion)[0] == match_clusters(confusion)[0] == {0: 1, 1: 0, 2: 2}
    np.testing.assert_array_equal(majority_clusters(confusion)[1], match_clusters(confusion)[1])


def test_overclustering_maps_many_clusters_to_one_class_where_matching_cannot(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for folder in ("gt", "pred"):
        (tmp_path / folder).mkdir()
    for i in range(2):
        gt = rng.integers(0, 3, (10, 12)).astype(np.uint8)
        gt[0] = 255
        pred = np.where(gt == 255, 0, (2 - gt) * 2 + rng.integers(0, 2, gt.shape))  # two clusters per class
        Image.fromarray(gt).save(tmp_path / "gt" / f"{i}.png")
        Image.fromarray(pred.astype(np.uint8)).save(tmp_path / "pred" / f"{i}.png")
    pairing = pair_by_folder(tmp_path / "pred", tmp_path / "gt")
    over = evaluate_pairing(pairing, 3, mode="overcluster")
    assert over["miou"] == pytest.approx(100.0) and over["pixel_acc"] == pytest.approx(100.0)
    assert over["cluster_to_class"] == {"0": 2, "1": 2, "2": 1, "3": 1, "4": 0, "5": 0}
    matched = evaluate_pairing(pairing, 3, mode="cluster")
    assert matched["pixel_acc"] < 70  # one-to-one leaves half of every class unmatched


@pytest.mark.skipif(not crf_available(), reason="pydensecrf2 (the optional CRF) is not installed")
def test_crf_refines_predictions_before_scoring(tmp_path: Path) -> None:
    image = np.zeros((24, 32, 3), np.uint8)
    image[:, 16:] = 255  # a black and a white half
    gt = np.zeros((24, 32), np.uint8)
    gt[:, 16:] = 1
    noisy = gt.copy()
    rng = np.random.default_rng(0)
    flips = rng.random(gt.shape) < 0.1
    noisy[flips] = 1 - noisy[flips]
    Image.fromarray(image).save(tmp_path / "image.png")
    refined = crf_refine(2)(Pair("x", tmp_path / "p.png", tmp_path / "g.png", tmp_path / "image.png"), noisy)
    assert (refined != gt).sum() < (noisy != gt).sum() // 4  # the CRF snapped the noise to the image's halves

    memory, test = _dataset(tmp_path / "data")
    summary = run_readouts(_cfg(), BlockSegmenter(), str(tmp_path / "data"), test, tmp_path / "out", ("linear",),
                           memory_list=memory, crf=True)
    assert set(summary) == {"linear", "linear_crf"}
    result = json.loads((tmp_path / "out" / "linear_crf.json").read_text())
    assert result["crf"] and result["protocol"] == "linear_crf" and result["readout"] == "linear_crf"


def test_linear_readout_needs_a_memory_list(tmp_path: Path) -> None:
    from hsg.cli.readout import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--checkpoint", "untrained", "--test_list", "t.txt", "--save_dir", str(tmp_path),
                    "--readouts", "linear"])
    args = parse_args(["--checkpoint", "untrained", "--test_list", "t.txt", "--save_dir", str(tmp_path),
                       "--readouts", "overcluster", "cluster", "--crf"])
    assert args.crf and args.readouts == ["overcluster", "cluster"]
    memory, test = _dataset(tmp_path / "data")
    with pytest.raises(ValueError, match="linear read-out needs a memory list"):
        run_readouts(_cfg(), BlockSegmenter(), str(tmp_path / "data"), test, tmp_path / "out", ("linear",))
