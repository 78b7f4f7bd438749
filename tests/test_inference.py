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

from hsg.inference.embed import embed_images, window_starts
from hsg.inference.memory import image_segments, knn_vote, load_memory, majority_labels, save_prototypes

ROOT = Path(__file__).resolve().parents[1]
TINY = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.output_stride=8", "train.crop_size=[64,64]", "train.batch_size=4", "num_workers=0",
        "train.log_step=1", "train.tensorboard_step=0", "test.image_size=96", "test.crop_size=[96,96]",
        "test.stride=[96,96]", "test.kmeans_iterations=3", "dataset.dataset=folder"]


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
    ids, protos = image_segments(emb, valid, [2, 2], 3)
    assert (ids[~valid] == -1).all() and (ids[valid] >= 0).all()
    assert protos.shape[0] == int(ids.max()) + 1
    assert set(ids[0][valid[0]].unique().tolist()).isdisjoint(ids[1].unique().tolist())


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
    fine = np.asarray(Image.open(next((run / "hier" / "hierarchy" / "fine").glob("*.png"))))
    coarse = np.asarray(Image.open(next((run / "hier" / "hierarchy" / "coarse").glob("*.png"))))
    assert fine.max() <= 8 and coarse.max() <= 4 and fine.shape == coarse.shape


def test_hierarchy_of_a_plain_folder_of_images(voc_run, shared_data, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((shared_data / "BSDS500" / "images" / "val").glob("*.jpg"))[:2]:
        (photos / src.name).write_bytes(src.read_bytes())
    run = voc_run / "stage2"
    p = _run("hierarchy.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--image_dir", str(photos), "--save_dir", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr[-2000:]
    figures = list((tmp_path / "out" / "hierarchy" / "figure").glob("*.png"))
    assert len(figures) == 2 and not (tmp_path / "out" / "hierarchy" / "oversegmentation").exists()


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
    # A stage-1 checkpoint cannot draw fine/coarse groups.
    p = _run("hierarchy.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "h"))
    assert p.returncode == 1 and "stage-1 model" in p.stderr
    # A malformed --kmeans_num_clusters.
    p = _run("inference.py", "--cfg_path", str(run / "config.yaml"), "--snapshot_dir", str(run),
             "--data_list", str(voc_run / "test.txt"), "--save_dir", str(tmp_path / "t"),
             "--semantic_memory_dir", str(tmp_path), "--kmeans_num_clusters", "6")
    assert p.returncode == 1 and "H,W" in p.stderr


def test_oracle_labels_take_each_segments_own_majority_without_ignore():
    from hsg.inference.memory import oracle_labels

    seg = torch.tensor([[0, 0, 1], [1, 1, 2]])
    lab = torch.tensor([[4, 255, 255], [255, 7, 255]])
    # segment 0: 4 (ignore does not vote); segment 1: 7; segment 2: only ignore -> 0
    assert oracle_labels(seg, lab, num_classes=21, ignore=255).tolist() == [4, 7, 0]


def test_results_table_joins_rows_and_extra_columns(tmp_path):
    for name, miou in (("a", 10.0), ("a_oracle", 60.0), ("a_nn1", 12.5), ("b", 5.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"miou": miou, "pixel_acc": 70.0, "miou_present": miou,
                                                            "num_images": 3}))
    p = _run("results_table.py", "--row", f"model a={tmp_path / 'a.json'}", "--row", f"b={tmp_path / 'b.json'}",
             "--oracle", f"model a={tmp_path / 'a_oracle.json'}", "--nn1", f"model a={tmp_path / 'a_nn1.json'}",
             "--out_json", str(tmp_path / "t.json"), "--out_md", str(tmp_path / "t.md"))
    assert p.returncode == 0, p.stderr
    md = (tmp_path / "t.md").read_text()
    # columns in a fixed order (1-NN, then oracle) whatever the flags' order; a row without them has empty cells
    assert "| model | mIoU % | mIoU over present classes % | pixel acc % | 1-NN mIoU % | oracle mIoU % |" in md
    assert "| model a | 10.00 | 10.00 | 70.00 | 12.50 | 60.00 |" in md
    assert "| b | 5.00 | 5.00 | 70.00 | | |" in md
    row = json.loads((tmp_path / "t.json").read_text())["rows"][0]
    assert (row["oracle_miou"], row["nn1_miou"]) == (60.0, 12.5)
    p = _run("results_table.py", "--row", f"b={tmp_path / 'b.json'}", "--nn1", f"c={tmp_path / 'a_nn1.json'}",
             "--out_json", str(tmp_path / "x.json"), "--out_md", str(tmp_path / "x.md"))
    assert p.returncode == 1 and "--nn1 names 'c'" in p.stderr
    p = _run("results_table.py", "--row", f"b={tmp_path / 'missing.json'}", "--out_json", str(tmp_path / "x.json"),
             "--out_md", str(tmp_path / "x.md"))
    assert p.returncode == 1 and "missing.json" in p.stderr
