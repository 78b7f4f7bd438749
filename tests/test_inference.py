"""Prototypes, the kNN read-out, sliding-window embedding, hierarchy output, and the inference scripts
end to end on real VOC images with a checkpoint from a short CPU training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hsg.evaluation.crf import crf_available
from hsg.inference.embed import embed_images, window_starts
from hsg.inference.memory import image_segments, knn_vote, load_memory, majority_labels, save_prototypes

ROOT = Path(__file__).resolve().parents[1]
TINY = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.output_stride=8", "train.crop_size=[64,64]", "train.batch_size=4", "num_workers=0",
        "train.log_step=1", "train.tensorboard_step=0", "test.image_size=96", "test.crop_size=[96,96]",
        "test.stride=[96,96]", "test.kmeans_iterations=3"]


def test_majority_label_counts_ignore_and_breaks_ties_low():
    seg = torch.tensor([[0, 0, 0, 1], [1, 1, 2, 2], [-1, 2, 2, 2]])
    lab = torch.tensor([[3, 3, 255, 7], [5, 5, 255, 255], [4, 9, 9, 255]])
    # segment 0: two 3s, one 255 -> 3; segment 1: 7, 5, 5 -> 5; segment 2: 255 x3, 9 x2 -> 255 (as the
    # original: ignored pixels vote, such prototypes are dropped when the memory is loaded).
    assert majority_labels(seg, lab, 3, 256).tolist() == [3, 5, 255]
    tie = majority_labels(torch.tensor([0, 0]), torch.tensor([4, 2]), 1, 10)
    assert tie.tolist() == [2]


def test_knn_vote_on_constructed_embeddings():
    # Memory: 3 prototypes of class 1 near e0, 2 of class 2 near e1; k=3 votes.
    memory = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.1, 0], [1.0, -0.1, 0], [1.0, 0, 0.1], [0.1, 1.0, 0], [-0.1, 1.0, 0]]), dim=1)
    labels = torch.tensor([1, 1, 1, 2, 2])
    queries = torch.nn.functional.normalize(torch.tensor([[1.0, 0.05, 0], [0.0, 1.0, 0.0]]), dim=1)
    assert knn_vote(queries, memory, labels, k=3, num_classes=3).tolist() == [1, 2]
    # k larger than the memory uses all of it: 3 votes for class 1 beat 2 for class 2.
    assert knn_vote(queries, memory, labels, k=50, num_classes=3).tolist() == [1, 1]
    # A single test segment works (the original divided by zero here).
    assert knn_vote(queries[:1], memory, labels, k=1, num_classes=3).tolist() == [1]


def test_memory_files_round_trip_and_drop_ignore(tmp_path):
    save_prototypes(tmp_path / "a.npz", torch.eye(3), torch.tensor([0, 255, 2]))
    save_prototypes(tmp_path / "sub" / "b.npz", torch.ones(1, 3), torch.tensor([1]))
    protos, labels = load_memory(tmp_path)
    assert labels.tolist() == [0, 2, 1] and protos.shape == (3, 3)
    with pytest.raises(FileNotFoundError, match="prototype.py"):
        load_memory(tmp_path / "empty")
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(ValueError, match="bad.npz"):
        load_memory(tmp_path)


def test_window_starts_cover_the_canvas():
    assert window_starts(512, 512, 512) == [0]
    assert window_starts(1024, 512, 512) == [0, 512]
    starts = window_starts(700, 512, 256)
    assert starts[0] == 0 and starts[-1] == 700 - 512


class _Identity(torch.nn.Module):
    def embed(self, x):
        return x


def test_sliding_window_and_flip_average_normalised_embeddings():
    x = torch.randn(2, 3, 40, 56)
    one = embed_images(_Identity(), x, (40, 56), (40, 56))
    windows = embed_images(_Identity(), x, (24, 24), (16, 16))
    torch.testing.assert_close(one, torch.nn.functional.normalize(x, dim=1))
    torch.testing.assert_close(windows, one, atol=1e-6, rtol=0)  # overlaps of identical values average out
    flipped = embed_images(_Identity(), x, (40, 56), (40, 56), flip=True)
    torch.testing.assert_close(flipped, one)  # a flip-equivariant "network" is unchanged by flip averaging


def test_image_segments_ignore_padding():
    emb = torch.randn(2, 4, 12, 16)
    valid = torch.zeros(2, 12, 16, dtype=torch.bool)
    valid[0, :10, :14] = True
    valid[1] = True
    ids, protos = image_segments(emb, torch.where(valid, 0, -1), [2, 2], 3)
    assert (ids[~valid] == -1).all() and (ids[valid] >= 0).all()
    assert protos.shape[0] == int(ids.max()) + 1
    assert set(ids[0][valid[0]].unique().tolist()).isdisjoint(ids[1].unique().tolist())


def test_image_segments_cut_by_regions():
    """test.oversegmentation: every segment lies inside one region, and cutting the clusters by regions
    only splits them (each cut segment lies inside one uncut cluster)."""
    torch.manual_seed(0)
    emb = torch.randn(1, 4, 12, 16)
    regions = torch.zeros(1, 12, 16, dtype=torch.long)
    regions[0, :, 5:] = 1
    regions[0, 7:, 11:] = 2
    regions[0, :, 14:] = -1  # padding
    clusters, _ = image_segments(emb, torch.where(regions >= 0, 0, -1), [2, 2], 3)
    ids, protos = image_segments(emb, regions, [2, 2], 3)
    inside = regions >= 0
    assert (ids[~inside] == -1).all() and (ids[inside] >= 0).all()
    assert protos.shape[0] == int(ids.max()) + 1 > int(clusters.max()) + 1
    for s in ids.unique()[1:]:
        assert regions[ids == s].unique().numel() == 1
        assert clusters[ids == s].unique().numel() == 1


@pytest.fixture(scope="module")
def voc_run(shared_data, tmp_path_factory):
    """A short CPU training (stage 1 then stage 2) on 12 VOC images with our own over-segmentations."""
    root = tmp_path_factory.mktemp("voc_run")
    voc = shared_data / "VOCdevkit"
    lines = (voc / "train_mini.txt").read_text().split("\n")[:12]
    rows = []
    for line in lines:
        image, gt = line.split()
        rows.append(f"{voc / image} {voc / gt} {root / 'seginst' / (Path(image).stem + '.png')}")
    (root / "all.txt").write_text("\n".join(rows) + "\n")
    (root / "memory.txt").write_text("\n".join(rows[:8]) + "\n")
    (root / "test.txt").write_text("\n".join(rows[8:]) + "\n")
    subprocess.run([sys.executable, str(ROOT / "pyenv" / "oversegment.py"), "--data_list", str(root / "all.txt"),
                    "--workers", "1"], check=True, capture_output=True)
    env_opts = TINY + ["train.max_iteration=2", "train.snapshot_step=2"]
    subprocess.run([sys.executable, str(ROOT / "pyenv" / "train.py"), "--data_list", str(root / "all.txt"),
                    "--snapshot_dir", str(root / "stage1"), "--opts", *env_opts], check=True, capture_output=True)
    stage2 = env_opts + ["network.hierarchy=true", "network.kmeans_num_clusters=[2,2]",
                         "network.kmeans_iterations=3", "train.fine_hrchy_loss_types=segsort",
                         "train.coarse_hrchy_loss_types=segsort", "train.dmon_loss_types=dmon",
                         "train.centroid_cont_loss_types=segsort", f"network.pretrained={root / 'stage1' / 'model-2.pth'}"]
    subprocess.run([sys.executable, str(ROOT / "pyenv" / "train.py"), "--data_list", str(root / "all.txt"),
                    "--snapshot_dir", str(root / "stage2"), "--opts", *stage2], check=True, capture_output=True)
    return root


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "pyenv" / script), *args], capture_output=True, text=True)


def test_prototypes_inference_eval_and_hierarchy_on_voc(voc_run):
    run = voc_run / "stage2"
    cfg = ["--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run)]
    p = _run("prototype.py", *cfg, "--data_list", str(voc_run / "memory.txt"), "--save_dir",
             str(run / "memory"), "--kmeans_num_clusters", "3,3")
    assert p.returncode == 0, p.stderr[-2000:]
    memory_files = sorted((run / "memory" / "semantic_prototype").glob("*.npz"))
    assert len(memory_files) == 8
    with np.load(memory_files[0]) as data:
        assert data["prototype"].shape[1] == 16 and data["prototype_label"].max() <= 255
    p = _run("inference.py", *cfg, "--data_list", str(voc_run / "test.txt"), "--save_dir", str(run / "test"),
             "--semantic_memory_dir", str(run / "memory" / "semantic_prototype"), "--kmeans_num_clusters", "3,3")
    assert p.returncode == 0, p.stderr[-2000:]
    grays = sorted((run / "test" / "semantic_gray").glob("*.png"))
    assert len(grays) == 4
    first = next(iter(grays))
    gt = Image.open(next(Path(line.split()[1]) for line in (voc_run / "test.txt").read_text().split("\n")
                         if Path(line.split()[0]).stem == first.stem))
    pred = Image.open(first)
    assert pred.size == gt.size and pred.mode == "L" and np.asarray(pred).max() < 21
    assert len(list((run / "test" / "semantic_color").glob("*.png"))) == 4
    assert len(list((run / "test" / "semantic_overlay").glob("*.jpg"))) == 4
    p = _run("eval.py", "--pred_dir", str(run / "test" / "semantic_gray"), "--gt_list", str(voc_run / "test.txt"),
             "--num_classes", "21", "--out_json", str(run / "eval.json"))
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads((run / "eval.json").read_text())
    assert report["num_images"] == 4 and 0 <= report["miou"] <= 100
    p = _run("hierarchy.py", *cfg, "--data_list", str(voc_run / "test.txt"), "--save_dir", str(run / "hier"),
             "--with_oversegmentation")
    assert p.returncode == 0, p.stderr[-2000:]
    for level in ("oversegmentation", "segments", "fine", "coarse", "figure"):
        assert len(list((run / "hier" / "hierarchy" / level).glob("*.png"))) == 4, level
    fine = Image.open(next((run / "hier" / "hierarchy" / "fine").glob("*.png")))
    coarse = Image.open(next((run / "hier" / "hierarchy" / "coarse").glob("*.png")))
    assert fine.mode == coarse.mode == "P" and fine.size == coarse.size
    assert set(np.unique(fine)) <= set(range(8)) | {255} and set(np.unique(coarse)) <= set(range(4)) | {255}


def test_hierarchy_of_a_plain_folder_of_photos_in_one_command(voc_run, shared_data, tmp_path):
    """A folder of photos (sub-folders, a space in a path, masks of pyenv/oversegment.py beside them) needs
    one command: the masks there are used, the missing ones made, no mask is taken for a photo, and the
    level PNGs come at each photo's own size, as palette PNGs numbered as the figure's legend."""
    photos = tmp_path / "my photos"
    (photos / "trip day").mkdir(parents=True)
    sources = sorted((shared_data / "BSDS500" / "images" / "val").glob("*.jpg"))[:3]
    for src, dst in zip(sources, ["a.jpg", "b c.jpg", "trip day/d.jpg"]):
        (photos / dst).write_bytes(src.read_bytes())
    tool = subprocess.run([sys.executable, str(ROOT / "pyenv" / "oversegment.py"), "--image_dir", str(photos),
                           "--workers", "1"], capture_output=True, text=True)
    assert tool.returncode == 0, tool.stderr[-2000:]
    (photos / "oversegmentation" / "b c.png").unlink()  # this one is made by the hierarchy command
    run = voc_run / "stage2"
    out = tmp_path / "out put"
    p = _run("hierarchy.py", "--cfg_path", str(run / "config.yaml"), "--checkpoint", str(run / "model-2.pth"),
             "--image_dir", str(photos), "--save_dir", str(out), "--workers", "1")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "over-segmenting 1 image(s)" in p.stdout and (out / "oversegmentation" / "b c.png").is_file()
    figures = sorted(str(f.relative_to(out / "hierarchy" / "figure")) for f in (out / "hierarchy" / "figure").rglob("*.png"))
    assert figures == ["a.png", "b c.png", "trip day/d.png"]
    for name, src in zip(["a", "b c", "trip day/d"], sources):
        size = Image.open(src).size
        for level in ("oversegmentation", "segments", "fine", "coarse"):
            picture = Image.open(out / "hierarchy" / level / f"{name}.png")
            assert picture.size == size, (name, level)
        fine = Image.open(out / "hierarchy" / "fine" / f"{name}.png")
        assert fine.mode == "P" and set(np.unique(fine)) <= set(range(8)) | {255}
    p = _run("hierarchy.py", "--cfg_path", str(run / "config.yaml"), "--checkpoint", str(run / "model-2.pth"),
             "--image_dir", str(photos), "--save_dir", str(tmp_path / "plain"), "--no_oversegmentation")
    assert p.returncode == 0, p.stderr[-2000:]
    assert not (tmp_path / "plain" / "hierarchy" / "oversegmentation").exists()


def test_inference_bad_inputs_give_one_line_errors(voc_run, tmp_path):
    run = voc_run / "stage1"
    # A checkpoint that does not fit the config (another embedding size).
    p = _run("prototype.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "memory.txt"), "--save_dir", str(tmp_path / "m"),
             "--opts", "network.embedding_dim=32")
    assert p.returncode == 1 and "does not fit the model" in p.stderr and "Traceback" not in p.stderr
    # No checkpoint in the snapshot folder.
    p = _run("prototype.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(tmp_path),
             "--data_list", str(voc_run / "memory.txt"), "--save_dir", str(tmp_path / "m"))
    assert p.returncode == 1 and "no checkpoint" in p.stderr
    # An empty memory folder.
    p = _run("inference.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "t"),
             "--semantic_memory_dir", str(tmp_path / "nothing"))
    assert p.returncode == 1 and "no prototype files" in p.stderr
    # A stage-1 model cannot draw fine/coarse groups: under its own config, nor under a stage-2 config,
    # where the transformers would keep their random initialisation (refused, naming the missing weights).
    p = _run("hierarchy.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "h"))
    assert p.returncode == 1 and "need a stage-2 model" in p.stderr
    p = _run("hierarchy.py", "--cfg_path", str(voc_run / "stage2" / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "h"))
    assert p.returncode == 1 and "has no weights for coarse_queries, coarse_transformer" in p.stderr
    assert not (tmp_path / "h").exists()
    # A malformed --kmeans_num_clusters.
    p = _run("inference.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "t"),
             "--semantic_memory_dir", str(tmp_path), "--kmeans_num_clusters", "6")
    assert p.returncode == 1 and "H,W" in p.stderr


def test_segmenter_cuts_test_segments_by_the_oversegmentation(voc_run, tmp_path):
    """test.oversegmentation=true: the network's test segments are k-means clusters cut by the list's regions
    (each segment inside one region and one uncut cluster); a list without column 3 is refused by name."""
    from hsg.config.config import load_config
    from hsg.data.datasets import read_oversegmentation
    from hsg.data.lists import read_list
    from hsg.errors import DataError
    from hsg.inference.load import load_model
    from hsg.inference.segmenter import NetworkSegmenter, resize_label, segment_images

    test_list = str(voc_run / "test.txt")
    cut_cfg = load_config(str(voc_run / "stage1" / "config.yaml"), ["test.oversegmentation=true"])
    plain_cfg = load_config(str(voc_run / "stage1" / "config.yaml"), [])
    model = load_model(plain_cfg, voc_run / "stage1" / "model-2.pth", torch.device("cpu"))
    cut = list(segment_images(cut_cfg, NetworkSegmenter(cut_cfg, model, torch.device("cpu")), "", test_list))
    plain = list(segment_images(plain_cfg, NetworkSegmenter(plain_cfg, model, torch.device("cpu")), "", test_list))
    samples = read_list(test_list, "", require=("image", "oversegmentation"))
    for image, clusters, sample in zip(cut, plain, samples):
        regions = read_oversegmentation(sample, (*image.orig_size, 3))
        regions = resize_label(torch.from_numpy(regions.astype(np.int64)), tuple(image.ids.shape))
        assert image.features.shape[0] > clusters.features.shape[0]
        for s in range(image.features.shape[0]):
            inside = image.ids == s
            assert regions[inside].unique().numel() == 1 and clusters.ids[inside].unique().numel() == 1
    no_regions = tmp_path / "two_columns.txt"
    no_regions.write_text("".join(" ".join(line.split()[:2]) + "\n" for line in open(test_list)))
    with pytest.raises(DataError, match="two_columns.txt"):
        list(segment_images(cut_cfg, NetworkSegmenter(cut_cfg, model, torch.device("cpu")), "", str(no_regions)))


def test_oracle_labels_take_each_segments_own_majority_without_ignore():
    from hsg.inference.memory import oracle_labels

    seg = torch.tensor([[0, 0, 1], [1, 1, 2]])
    lab = torch.tensor([[4, 255, 255], [255, 7, 255]])
    # segment 0: 4 (ignore does not vote); segment 1: 7; segment 2: only ignore -> 0
    assert oracle_labels(seg, lab, num_classes=21, ignore=255).tolist() == [4, 7, 0]


def test_readout_entry_scores_every_readout_and_the_learning_curve(voc_run):
    """pyenv/readout.py: memory, predictions and scores of each read-out for one checkpoint and for every
    checkpoint of both stages (a learning curve with a baseline drawn flat)."""
    s1, s2 = voc_run / "stage1", voc_run / "stage2"
    common = ["--cfg_path", str(s2 / "config.yaml"), "--memory_list", str(voc_run / "memory.txt"),
              "--test_list", str(voc_run / "test.txt"), "--opts", "test.kmeans_num_clusters=[3,3]"]
    p = _run("readout.py", *common, "--checkpoint", "untrained", "--save_dir", str(voc_run / "ro_untrained"),
             "--readouts", "knn", "nn1", "cluster", "oracle")
    assert p.returncode == 0, p.stderr[-2000:]
    untrained = json.loads((voc_run / "ro_untrained" / "readout.json").read_text())
    assert set(untrained) == {"knn", "nn1", "cluster", "oracle"}
    for readout, folder in (("knn", "semantic_gray"), ("nn1", "nn1_gray"), ("cluster", "cluster_gray"),
                            ("oracle", "oracle_gray")):
        assert len(list((voc_run / "ro_untrained" / "test" / folder).glob("*.png"))) == 4, readout
        assert 0 <= untrained[readout]["miou"] <= 100 and untrained[readout]["images"] == 4
    assert untrained["oracle"]["miou"] >= untrained["knn"]["miou"]  # the oracle bounds any read-out
    p = _run("readout.py", *common, "--snapshot_dir", str(s1), str(s2), "--every_checkpoint", "--save_dir",
             str(voc_run / "curve"), "--baseline", f"untrained={voc_run / 'ro_untrained' / 'readout.json'}")
    assert p.returncode == 0, p.stderr[-2000:]
    curve = json.loads((voc_run / "curve" / "curve.json").read_text())
    assert [point["iteration"] for point in curve["points"]] == [2, 4]  # stage 2 continues stage 1
    assert curve["starts"] == {"stage2": 2}
    assert set(curve["points"][0]["readouts"]) == {"knn", "cluster"} and "untrained" in curve["baselines"]
    assert Image.open(voc_run / "curve" / "curve.png").size[0] > 600
    assert (voc_run / "curve" / "stage2" / "iter_2" / "test" / "eval_cluster.json").is_file()
    # Scored again: the same checkpoint, config and lists are reused; another config is scored anew.
    again = _run("readout.py", *common, "--checkpoint", "untrained", "--save_dir", str(voc_run / "ro_untrained"),
                 "--readouts", "knn")
    assert again.returncode == 0 and "already scored" in again.stdout
    other = _run("readout.py", *common[:-1], "test.kmeans_num_clusters=[2,2]", "--checkpoint", "untrained",
                 "--save_dir", str(voc_run / "ro_untrained"), "--readouts", "knn")
    assert other.returncode == 0 and "already scored" not in other.stdout and "knn" in other.stdout
    p = _run("readout.py", *common, "--snapshot_dir", str(s1), "--save_dir", str(voc_run / "x"),
             "--baseline", "untrained")
    assert p.returncode == 1 and "NAME=READOUT_JSON" in p.stderr


@pytest.mark.skipif(not crf_available(), reason="pydensecrf2 (the optional CRF) is not installed")
def test_crf_on_a_scored_folder_refines_its_saved_predictions_without_embedding_again(voc_run):
    """``--crf`` on a folder scored without it adds the ``_crf`` rows from the saved predictions: the plain
    scores stay, and the memory (written by the embedding pass) is not written again."""
    common = ["--cfg_path", str(voc_run / "stage2" / "config.yaml"), "--memory_list", str(voc_run / "memory.txt"),
              "--test_list", str(voc_run / "test.txt"), "--checkpoint", "untrained", "--save_dir",
              str(voc_run / "ro_crf"), "--readouts", "knn", "cluster", "--opts", "test.kmeans_num_clusters=[3,3]"]
    p = _run("readout.py", *common)
    assert p.returncode == 0, p.stderr[-2000:]
    plain = json.loads((voc_run / "ro_crf" / "readout.json").read_text())
    memory = sorted((voc_run / "ro_crf" / "memory").rglob("*"))
    written = [path.stat().st_mtime_ns for path in memory]
    p = _run("readout.py", *common[:-4], "knn", *common[-2:], "--crf")  # the CRF of one read-out of two
    assert p.returncode == 0, p.stderr[-2000:]
    assert "scored after the dense CRF" in p.stdout
    refined = json.loads((voc_run / "ro_crf" / "readout.json").read_text())
    assert set(refined) == {"knn", "cluster", "knn_crf"}
    assert {r: refined[r]["miou"] for r in plain} == {r: plain[r]["miou"] for r in plain}
    assert [path.stat().st_mtime_ns for path in memory] == written
    assert json.loads((voc_run / "ro_crf" / "knn_vote_crf.json").read_text())["crf"]
    again = _run("readout.py", *common[:-4], "knn", *common[-2:], "--crf")
    assert again.returncode == 0 and "already scored" in again.stdout


def test_label_free_restarts_keep_the_best_objective_so_the_seed_hardly_matters():
    from hsg.clustering.kmeans import l2_normalize
    from hsg.inference.readout import label_free_clusters

    # Eight noisy directions: one k-means run lands in a seed-dependent local optimum.
    g = torch.Generator().manual_seed(0)
    x = l2_normalize(l2_normalize(torch.randn(8, 16, generator=g))[torch.arange(400) % 8]
                     + 0.35 * torch.randn(400, 16, generator=g))

    def objective(assign: torch.Tensor) -> float:  # the weighted cosine to the centroids (weights 1)
        centroids = l2_normalize(torch.zeros(8, 16).index_add_(0, assign, x))
        return float((x * centroids[assign]).sum())

    one = [objective(label_free_clusters(x, torch.ones(400), 8, seed=s, restarts=1)) for s in range(6)]
    many = [objective(label_free_clusters(x, torch.ones(400), 8, seed=s, restarts=50)) for s in range(6)]
    assert all(m >= o - 1e-6 for m, o in zip(many, one))  # the first restart is the single run; the best is kept
    assert max(one) - min(one) > 5 and max(many) - min(many) < 0.5


def test_label_free_clusters_find_constructed_classes_and_a_permuted_perfect_prediction_scores_100(tmp_path):
    from hsg.evaluation.pairs import pair_by_folder
    from hsg.evaluation.report import evaluate_pairing
    from hsg.inference.readout import label_free_clusters

    # Segments of three classes, each around its own direction, with sizes as weights.
    g = torch.Generator().manual_seed(0)
    centres = torch.eye(3, 8)
    classes = torch.arange(60) % 3
    features = centres[classes] + 0.05 * torch.randn(60, 8, generator=g)
    clusters = label_free_clusters(features, torch.randint(1, 50, (60,), generator=g), 3, seed=0, restarts=5)
    # Perfect up to a renaming of the clusters.
    assert len({(int(c), int(k)) for c, k in zip(classes, clusters)}) == 3
    assert label_free_clusters(features, torch.ones(60), 3, seed=0, restarts=5).tolist() == \
        label_free_clusters(features, torch.ones(60), 3, seed=0, restarts=5).tolist()  # deterministic
    # A prediction that is the ground truth with the ids permuted scores 100 after Hungarian matching.
    gt = np.random.default_rng(0).integers(0, 4, (2, 20, 30)).astype(np.uint8)
    gt[:, :2] = 255
    permutation = np.array([2, 0, 3, 1], np.uint8)
    for i in range(2):
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / "pred").mkdir(exist_ok=True)
        Image.fromarray(gt[i]).save(tmp_path / "gt" / f"{i}.png")
        Image.fromarray(np.where(gt[i] == 255, 7, permutation[np.minimum(gt[i], 3)]).astype(np.uint8)).save(
            tmp_path / "pred" / f"{i}.png")
    report = evaluate_pairing(pair_by_folder(tmp_path / "pred", tmp_path / "gt"), 4, mode="cluster")
    assert report["miou"] == pytest.approx(100.0) and report["cluster_to_class"] == {"2": 0, "0": 1, "3": 2, "1": 3}


def test_learning_curve_plot(tmp_path):
    from hsg.vis.curves import plot_learning_curves

    path = plot_learning_curves({100: {"knn": 10.0, "cluster": 8.0}, 200: {"knn": 14.0, "cluster": 12.5}},
                                {"raw pixels": {"knn": 9.0, "cluster": 11.0}}, tmp_path / "c" / "curve.png", "t")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[1] > 600 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # lines, text, legend
    # Where stage 2 starts: a vertical line across the plot (a column that differs over most of its height).
    marked = np.asarray(Image.open(plot_learning_curves(
        {100: {"knn": 10.0, "cluster": 8.0}, 200: {"knn": 14.0, "cluster": 12.5}},
        {"raw pixels": {"knn": 9.0, "cluster": 11.0}}, tmp_path / "m.png", "t", starts={"stage 2": 150})).convert("RGB"))
    changed_rows = (np.abs(marked.astype(int) - image.astype(int)).sum(axis=2) > 60).sum(axis=0)
    assert changed_rows.max() > 0.5 * image.shape[0]


@pytest.mark.slow
def test_results_table_of_readouts(tmp_path):
    for name, miou in (("a", 10.0), ("b", 5.0)):
        readouts = {"knn": {"miou": miou, "pixel_acc": 70.0}, "cluster": {"miou": miou + 1, "pixel_acc": 60.0}}
        if name == "a":
            readouts["oracle"] = {"miou": 60.0, "pixel_acc": 90.0}
        (tmp_path / f"{name}.json").write_text(json.dumps(readouts))
    table = [sys.executable, str(ROOT / "benchmarks" / "small_scale" / "results_table.py")]
    p = subprocess.run([*table, "--row", f"model a={tmp_path / 'a.json'}", "--row", f"b={tmp_path / 'b.json'}",
                        "--save_dir", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "results.md").read_text()
    assert "| model | kNN vote mIoU % (the protocol) | label-free mIoU % | oracle mIoU % | pixel acc % (kNN) |" in md
    assert "| model a | 10.00 | 11.00 | 60.00 | 70.00 |" in md and "| b | 5.00 | 6.00 |  | 70.00 |" in md
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["seeds"][0]["oracle"]["miou"] == 60.0
    # Two seeds per row: mean ± sample std; mIoU / pixel accuracy per cell, CRF columns by name.
    (tmp_path / "c.json").write_text(json.dumps({"linear": {"miou": 20.0, "pixel_acc": 80.0},
                                                 "linear_crf": {"miou": 22.0, "pixel_acc": 81.0}}))
    (tmp_path / "d.json").write_text(json.dumps({"linear": {"miou": 30.0, "pixel_acc": 84.0},
                                                 "linear_crf": {"miou": 31.0, "pixel_acc": 85.0}}))
    p = subprocess.run([*table, "--row", f"hsg={tmp_path / 'c.json'},{tmp_path / 'd.json'}", "--row",
                        f"a={tmp_path / 'a.json'}", "--cells", "miou_acc", "--readouts", "linear", "linear_crf",
                        "--save_dir", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "results.md").read_text()
    assert "| model | linear probe | linear probe + CRF |" in md
    assert "| hsg | 25.00 ± 7.07 / 82.00 ± 2.83 | 26.50 ± 6.36 / 83.00 ± 2.83 |" in md
    assert "| a |  |  |" in md  # a row without the read-out leaves its cell empty
    p = subprocess.run([*table, "--row", f"b={tmp_path / 'missing.json'}", "--save_dir", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "missing.json" in p.stderr
