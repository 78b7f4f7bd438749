"""DataLoaders: sharding over processes, per-epoch shuffling, and independent random streams.

Every random stream is a pure function of the seed: the shuffle order comes from (seed, epoch) and is the
same on every process, each process takes its own shard, and the augmentations of sample ``i`` come from
its own generator seeded with (seed, epoch, i). A run is therefore reproducible whatever the number of
workers or processes, resumes mid-epoch with exactly the views it would have drawn, and no two workers or
processes repeat each other's augmentations (the old PyTorch bug of workers sharing numpy's state cannot
happen). Each worker's global numpy/``random``/torch generators are also reseeded from (seed, rank,
worker id, epoch), for any code that uses them.

With workers, each worker should be one core's worth of work, but ``cv2.setNumThreads`` called inside
a forked worker deadlocks once the parent has used OpenCV's thread pool. So a loader with workers sets
OpenCV to one thread in the main process, before the workers are forked, and they inherit it.
"""

from __future__ import annotations

import os
import random
import signal
from typing import Any, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from hsg.data.datasets import eval_collate, train_collate
from hsg.errors import DataError


class ShardSampler(Sampler[int]):
    """DistributedSampler without padding: the shuffled order is cut to a multiple of ``world_size``
    so that every process gets the same number of samples, and each takes every ``world_size``-th."""

    def __init__(self, size: int, rank: int = 0, world_size: int = 1, seed: int = 0, shuffle: bool = True) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        if size < world_size:
            raise ValueError(f"{size} samples cannot be shared by {world_size} processes")
        self.size, self.rank, self.world_size = size, rank, world_size
        self.seed, self.shuffle = seed, shuffle
        self.per_rank = size // world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's order; ``start`` skips that many of this process's first samples (resume)."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"start {start} is not in [0, {self.per_rank}]")
        self.epoch, self.start = epoch, start

    def order(self) -> np.ndarray:
        """This process's sample indices for the current epoch (before ``start`` is applied)."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        return order[: self.per_rank * self.world_size][self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.start:].tolist())

    def __len__(self) -> int:
        return self.per_rank - self.start


def stream_entropy(seed: int, rank: int, worker_id: int, epoch: int) -> list[int]:
    return [int(seed), int(rank), int(worker_id), int(epoch)]


def seed_process(entropy: list[int]) -> None:
    """Seed numpy's, Python's and torch's global generators of this process from ``entropy``."""
    words = np.random.SeedSequence(entropy).generate_state(4)  # 4 x uint32
    np.random.seed(words)
    random.seed(int.from_bytes(words.tobytes(), "little"))
    torch.manual_seed(int.from_bytes(words[:2].tobytes(), "little") >> 1)


def _one_opencv_thread_per_worker(num_workers: int) -> None:
    if num_workers > 0:
        cv2.setNumThreads(1)


class _WorkerInit:
    """worker_init_fn: seeds a training worker from (seed, rank, worker id, the sampler's epoch)."""

    def __init__(self, seed: int, rank: int, sampler: ShardSampler | None) -> None:
        self.seed, self.rank, self.sampler = seed, rank, sampler

    def __call__(self, worker_id: int) -> None:
        # Ctrl-C belongs to the main process (hsg.engine.preemption), which finishes its iteration and stops
        # the workers itself. (SIGTERM keeps its default: multiprocessing stops workers with it.)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        epoch = self.sampler.epoch if self.sampler is not None else 0
        entropy = stream_entropy(self.seed, self.rank, worker_id, epoch)
        seed_process(entropy)
        info = get_worker_info()
        if info is not None and hasattr(info.dataset, "seed"):
            info.dataset.seed(self.seed, epoch)


class TrainLoader(DataLoader):
    """The training DataLoader plus epoch control and an endless iterator for iteration-based training."""

    sampler: ShardSampler

    def __init__(self, dataset: Dataset, batch_size: int, sampler: ShardSampler, num_workers: int,
                 seed: int, rank: int) -> None:
        _one_opencv_thread_per_worker(num_workers)
        # A private generator: each new iterator (one per epoch) draws a base seed from it. Drawn from the
        # global torch stream instead, a run resumed mid-epoch would shift the dropout masks that follow.
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                         collate_fn=train_collate, drop_last=True, pin_memory=torch.cuda.is_available(),
                         worker_init_fn=_WorkerInit(seed, rank, sampler) if num_workers > 0 else None,
                         generator=torch.Generator().manual_seed(int(seed)))
        self.base_seed, self.rank = seed, rank

    def __iter__(self):
        if self.num_workers == 0 and hasattr(self.dataset, "seed"):
            # No workers: the main process selects the epoch's streams itself.
            self.dataset.seed(self.base_seed, self.sampler.epoch)
        return super().__iter__()

    @property
    def batches_per_epoch(self) -> int:
        return self.sampler.per_rank // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Reshuffle for ``epoch``; ``start_batch`` skips that many batches of it (without loading them)."""
        self.sampler.set_epoch(epoch, start_batch * self.batch_size)

    def iterate_from(self, iteration: int = 0) -> Iterator[dict[str, Any]]:
        """Endless batches, starting where an uninterrupted run would be at ``iteration``.

        A resumed run draws the same images with the same augmentations as an uninterrupted one.
        """
        epoch, skip = divmod(int(iteration), self.batches_per_epoch)
        while True:
            self.set_epoch(epoch, skip)
            yield from self
            epoch, skip = epoch + 1, 0


def worker_count(setting: int, processes_per_machine: int = 1) -> int:
    """DataLoader workers for the config's ``num_workers``: itself when >= 0; for -1, one per CPU core
    available to each of the processes on this machine, at most 8."""
    if setting >= 0:
        return setting
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(8, cores // max(1, processes_per_machine)))


def build_train_loader(cfg: Any, dataset: Dataset, rank: int, world_size: int, batch_size_per_process: int,
                       seed: int) -> TrainLoader:
    """The training loader of process ``rank`` of ``world_size``, ``batch_size_per_process`` images a batch."""
    if batch_size_per_process < 1:
        raise ValueError(f"batch size per process must be >= 1, got {batch_size_per_process}")
    per_rank = len(dataset) // world_size
    if per_rank < batch_size_per_process:
        source = getattr(dataset, "samples", [None])[0]
        raise DataError(getattr(source, "list_file", None),
                        f"{len(dataset)} training samples give {per_rank} per process over {world_size} "
                        f"process(es), fewer than one batch of {batch_size_per_process}; lower "
                        f"train.batch_size or add images")
    sampler = ShardSampler(len(dataset), rank, world_size, seed, shuffle=cfg.train.shuffle)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return TrainLoader(dataset, batch_size_per_process, sampler, worker_count(cfg.num_workers, local_processes),
                       seed, rank)


def build_eval_loader(cfg: Any, dataset: Dataset, batch_size: int | None = None) -> DataLoader:
    """In-order evaluation loader, ``test.batch_size`` (or ``batch_size``) images a batch, nothing dropped,
    with ``num_workers`` workers."""
    batch = cfg.test.batch_size if batch_size is None else batch_size
    workers = worker_count(cfg.num_workers)
    _one_opencv_thread_per_worker(workers)
    return DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=workers, collate_fn=eval_collate,
                      pin_memory=torch.cuda.is_available())


__all__ = ["ShardSampler", "TrainLoader", "build_train_loader", "build_eval_loader", "seed_process",
           "stream_entropy", "worker_count"]
