"""The read-out and the hierarchy pictures under ``torchrun``: each process takes its share of the images and
the results are those of one process, number for number and pixel for pixel (2 gloo processes on the CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hsg.inference.segmenter import batch_share

ROOT = Path(__file__).resolve().parents[1]
TINY = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.transformer_heads=2", "test.image_size=64", "test.crop_size=[64,64]", "test.stride=[64,64]",
        "test.kmeans_num_clusters=[3,3]", "test.batch_size=2", "test.cluster_restarts=3", "num_workers=0",
        "device=cpu"]

pytestmark = pytest.mark.slow


def test_batch_shares_cover_the_list_once_in_whole_batches():
    for count, batch, world in ((10, 3, 2), (7, 2, 3), (1, 4, 2), (12, 4, 3)):
        shares = [batch_share(count, batch, rank, world) for rank in range(world)]
        assert sorted(i for s in shares for i in s) == list(range(count))
        for rank, share in enumerate(shares):  # whole batches of the one-process run, every world-th one
            assert all(i // batch % world == rank for i in share)


def _run(args: list[str], processes: int, cwd: Path) -> subprocess.CompletedProcess:
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                         "--nproc_per_node", str(processes)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(launcher + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def camvid_lists(shared_data, tmp_path_factory) -> tuple[Path, Path, Path]:
    root = shared_data / "CamVid"
    work = tmp_path_factory.mktemp("camvid_lists")
    memory, test = work / "memory.txt", work / "test.txt"
    memory.write_text("".join(line for line in (root / "train.txt").read_text().splitlines(True)[:5]))
    test.write_text("".join(line for line in (root / "val.txt").read_text().splitlines(True)[:5]))
    return root, memory, test


def test_readout_under_torchrun_scores_what_one_process_scores(camvid_lists, tmp_path):
    root, memory, test = camvid_lists
    opts = ["dataset.class_names=camvid", "dataset.num_classes=11", "dataset.semantic_ignore_index=11", *TINY]
    results = []
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        _run([str(ROOT / "pyenv" / "readout.py"), "--data_dir", str(root), "--memory_list", str(memory),
              "--test_list", str(test), "--checkpoint", "untrained", "--readouts", "knn", "nn1", "cluster",
              "--save_dir", str(out), "--opts", *opts], processes, tmp_path)
        results.append(json.loads((out / "readout.json").read_text()))
        predictions = sorted((out / "test" / "semantic_gray").glob("*.png"))
        assert len(predictions) == 5
    assert results[0] == results[1]
    for name in sorted(p.name for p in (tmp_path / "p1" / "test" / "semantic_gray").glob("*.png")):
        assert (tmp_path / "p1" / "test" / "semantic_gray" / name).read_bytes() == \
            (tmp_path / "p2" / "test" / "semantic_gray" / name).read_bytes()


def test_hierarchy_pictures_under_torchrun_are_those_of_one_process(camvid_lists, tmp_path):
    from hsg.config.config import load_config
    from hsg.engine.checkpoint import save_checkpoint
    from hsg.models.model import build_model

    root, _, test = camvid_lists
    cfg = load_config("demo_stage2", ["dataset.class_names=camvid", "dataset.num_classes=11",
                                      "dataset.semantic_ignore_index=11", *TINY])
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "model-5.pth", build_model(cfg), None, 5, cfg.to_dict())
    for processes in (1, 2):
        done = _run([str(ROOT / "pyenv" / "hierarchy.py"), "--checkpoint", str(tmp_path / "model-5.pth"),
                     "--data_dir", str(root), "--data_list", str(test), "--save_dir", str(tmp_path / f"p{processes}")],
                    processes, tmp_path)
        assert "[hierarchy] 5 images" in done.stdout
    for level in ("segments", "fine", "coarse", "figure"):
        one = sorted((tmp_path / "p1" / "hierarchy" / level).rglob("*.png"))
        assert len(one) == 5, level
        for path in one:
            twin = tmp_path / "p2" / path.relative_to(tmp_path / "p1")
            assert path.read_bytes() == twin.read_bytes(), twin
