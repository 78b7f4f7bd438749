"""Training loader: reproducible under a seed, different across workers and epochs, sharded, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hsg.config.config import get_default_config
from hsg.data.datasets import TrainDataset
from hsg.data.lists import write_list
from hsg.data.loader import ShardSampler, build_eval_loader, build_train_loader
from hsg.errors import DataError
from hsg.data.datasets import EvalDataset


@pytest.fixture(scope="module")
def lists(shared_data: Path, tmp_path_factory) -> dict[str, Path]:
    root = shared_data / "VOCdevkit"
    d = tmp_path_factory.mktemp("loader")
    rows = []
    for line in (root / "train_mini.txt").read_text().split("\n")[:8]:
        image, gt = line.split()
        region = np.asarray(Image.open(root / gt)).astype(np.uint16) + 1
        Image.fromarray(region).save(d / Path(gt).name)
        rows.append((str(root / image), str(root / gt), str(d / Path(gt).name)))
    write_list(d / "eight.txt", rows)
    write_list(d / "same.txt", [rows[0]] * 4)
    return {"eight": d / "eight.txt", "same": d / "same.txt"}


def config(workers: int, shuffle: bool = True):
    cfg = get_default_config()
    cfg.num_workers = workers
    cfg.train.crop_size = [64, 64]
    cfg.train.shuffle = shuffle
    return cfg


def epoch_batches(list_file: Path, workers: int, seed: int, batch: int = 2, epoch: int = 0,
                  shuffle: bool = True, geometry: bool = False) -> list[dict]:
    cfg = config(workers, shuffle)
    loader = build_train_loader(cfg, TrainDataset(cfg, "", str(list_file), return_geometry=geometry), 0, 1,
                                batch, seed)
    loader.set_epoch(epoch)
    return list(loader)


def same(a: list[dict], b: list[dict]) -> bool:
    keys = ("image", "oversegmentation", "image_id")
    return len(a) == len(b) and all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in keys)


def test_reproducible_under_seed_and_seed_matters(lists):
    a = epoch_batches(lists["eight"], 2, seed=5)
    b = epoch_batches(lists["eight"], 2, seed=5)
    c = epoch_batches(lists["eight"], 2, seed=6)
    assert len(a) == 4
    for batch in a:
        assert batch["image"].shape == (4, 3, 64, 64) and batch["image"].dtype == torch.float32
        assert batch["oversegmentation"].shape == (4, 64, 64) and batch["oversegmentation"].dtype == torch.int64
        ids = batch["image_id"]
        assert ids.dtype == torch.int64 and torch.equal(ids[0::2], ids[1::2])
    assert same(a, b)
    assert not same(a, c)
    assert sorted(int(i) for batch in a for i in batch["image_id"][0::2]) == list(range(8))


def test_no_workers_equals_one_worker(lists):
    assert same(epoch_batches(lists["eight"], 0, seed=3), epoch_batches(lists["eight"], 1, seed=3))


def test_workers_and_epochs_do_not_repeat_augmentations(lists):
    """One image listed 4 times, in order: each worker, sample and epoch must draw its own views."""
    epoch0 = epoch_batches(lists["same"], 2, seed=1, batch=1, shuffle=False, geometry=True)
    by_worker = [epoch0[0], epoch0[1]]  # batches 0 and 1 come from workers 0 and 1
    assert not torch.equal(by_worker[0]["image"], by_worker[1]["image"])
    assert not torch.equal(by_worker[0]["oversegmentation"], by_worker[1]["oversegmentation"])
    epoch1 = epoch_batches(lists["same"], 2, seed=1, batch=1, shuffle=False, epoch=1, geometry=True)
    assert not torch.equal(epoch0[0]["image"], epoch1[0]["image"])
    # Compare the drawn geometry: two crops of a flat area (sky) can be identical pictures by chance.
    views = {(g.flip, g.scale, g.offset) for b in epoch0 + epoch1 for g in b["geometry"]}
    assert len(views) == 16


def test_shard_sampler_splits_one_permutation():
    samplers = [ShardSampler(10, rank, 3, seed=4) for rank in range(3)]
    shards = [list(s) for s in samplers]
    assert [len(s) for s in shards] == [3, 3, 3] and [len(s) for s in samplers] == [3, 3, 3]
    flat = sorted(i for s in shards for i in s)
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))
    order = np.random.default_rng([4, 0]).permutation(10)[:9]
    assert [order[r::3].tolist() for r in range(3)] == shards
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != shards
    assert list(ShardSampler(5, 1, 2, shuffle=False)) == [1, 3]
    with pytest.raises(ValueError, match="rank 2 is not in"):
        ShardSampler(10, 2, 2)


def test_processes_get_equal_full_batches(lists):
    cfg = config(0)
    ds = TrainDataset(cfg, "", str(lists["eight"]))
    loaders = [build_train_loader(cfg, ds, rank, 3, 2, seed=0) for rank in range(3)]
    batches = [list(loader) for loader in loaders]
    assert [len(b) for b in batches] == [1, 1, 1]  # 8 // 3 = 2 images per process: one batch of 2
    ids = [int(i) for b in batches for i in b[0]["image_id"][0::2]]
    assert len(set(ids)) == 6


def test_iterate_from_resumes_the_image_order(lists):
    cfg = config(0)
    loader = build_train_loader(cfg, TrainDataset(cfg, "", str(lists["eight"])), 0, 1, 2, seed=9)
    it = loader.iterate_from(0)
    full = [next(it)["image_id"].tolist() for _ in range(10)]  # 2.5 epochs of 4 batches
    assert full[:4] != full[4:8]  # reshuffled per epoch
    resumed = loader.iterate_from(5)
    assert [next(resumed)["image_id"].tolist() for _ in range(5)] == full[5:10]


def test_resume_and_worker_count_do_not_change_the_views(lists):
    """Augmentations are a function of (seed, epoch, sample): a run resumed mid-epoch, or run with another
    number of workers, sees exactly the same batches (what makes an interrupted training continue the same
    trajectory)."""
    batches = {}
    for workers in (0, 2):
        cfg = config(workers)
        loader = build_train_loader(cfg, TrainDataset(cfg, "", str(lists["eight"])), 0, 1, 2, seed=9)
        it = loader.iterate_from(0)
        full = [next(it) for _ in range(7)]
        resumed = loader.iterate_from(5)
        assert same([next(resumed) for _ in range(2)], full[5:7])
        batches[workers] = full
    assert same(batches[0], batches[2])


def test_fewer_samples_than_a_batch(lists):
    cfg = config(0)
    ds = TrainDataset(cfg, "", str(lists["eight"]))
    with pytest.raises(DataError, match=r"eight\.txt: 8 training samples give 4 per process over 2 process"):
        build_train_loader(cfg, ds, 0, 2, 5, seed=0)


def test_eval_loader_keeps_order(lists):
    cfg = get_default_config()
    cfg.test.image_size = 96
    cfg.test.crop_size = [96, 96]
    cfg.test.batch_size = 3
    ds = EvalDataset(cfg, "", str(lists["eight"]))
    cfg.num_workers = 1
    batches = list(build_eval_loader(cfg, ds))
    assert [len(b["name"]) for b in batches] == [3, 3, 2]
    assert [n for b in batches for n in b["name"]] == [s.name for s in ds.samples]
    assert batches[0]["image"].shape == (3, 3, 96, 96)
