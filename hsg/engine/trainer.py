"""The training loop: one process, one GPU, or many GPUs and nodes under ``torchrun``.

One visible loop (as DINO's and MAE's): fetch a batch, schedule the learning rate, forward, losses over
the global batch, check that every term is finite, backward, step, log, checkpoint. Everything
distributed lives in :mod:`hsg.engine.distributed`; everything about files in
:mod:`hsg.engine.checkpoint`.

The config's ``train.batch_size`` is the global batch (images per iteration over all processes) and the
learning rate is used as given, so a run means the same thing on 1 or 64 processes. The per-pixel losses
are normalised by the global pixel count, so the average that DDP optimises is the global mean.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from hsg.config.config import Config
from hsg.data.datasets import TrainDataset
from hsg.data.loader import build_train_loader
from hsg.engine import distributed as du
from hsg.engine.checkpoint import (checkpoint_path, latest_checkpoint, load_checkpoint, load_model_weights,
                                   rng_state, save_checkpoint, set_rng_state)
from hsg.engine.logger import TrainLogger
from hsg.errors import ConfigError, NonFiniteLossError
from hsg.engine.optim import MomentumSGD, learning_rate, param_groups
from hsg.losses.hsg_loss import hsg_losses, total_loss
from hsg.models.model import build_model
from hsg.vis.pictures import training_pictures


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def per_process_batch(batch_size: int, world_size: int) -> int:
    if batch_size % world_size:
        raise ValueError(f"train.batch_size={batch_size} (the global batch) is not divisible by the "
                         f"{world_size} processes")
    return batch_size // world_size


def check_finite(terms: dict[str, torch.Tensor], iteration: int, device: torch.device) -> None:
    """Stop every process if any process has a non-finite term, naming the iteration and the term."""
    names = sorted(k for k in terms if k != "accuracy")
    values = torch.stack([terms[k].detach().float() for k in names])
    bad = (~torch.isfinite(values)).float()
    flags = du.all_reduce_sum(bad.to(device))
    if flags.any():
        which = [f"{k}={terms[k].item():.4g}" if bad[i] else f"{k} (on another process)"
                 for i, k in enumerate(names) if flags[i] > 0]
        raise NonFiniteLossError(f"iteration {iteration + 1}: non-finite loss term(s): {', '.join(which)}; "
                                 f"stopped before the update, the last checkpoint is intact")


def train(cfg: Config, snapshot_dir: str | Path, data_dir: str | None = None,
          data_list: str | None = None) -> Path:
    """Train the model described by ``cfg`` and return the path of the final checkpoint."""
    snapshot_dir = Path(snapshot_dir)
    info = du.init_distributed(cfg.device)
    device = info.device
    seed_everything(cfg.seed + info.rank)
    data_dir = data_dir if data_dir is not None else cfg.dataset.data_dir
    data_list = data_list or cfg.dataset.train_data_list
    if not data_list:
        raise ConfigError("no training list: pass --data_list or set dataset.train_data_list")
    if info.is_main:
        snapshot_dir.mkdir(parents=True, exist_ok=True)
        cfg.dump(snapshot_dir / "config.yaml")
    t = cfg.train
    batch = per_process_batch(t.batch_size, info.world_size)

    dataset = TrainDataset(cfg, data_dir, data_list)
    model = build_model(cfg).to(device)
    if cfg.network.pretrained:
        load_model_weights(model, cfg.network.pretrained)
    if cfg.network.use_syncbn and info.world_size > 1:
        model = du.convert_sync_batchnorm(model, device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = MomentumSGD(param_groups(model, t.weight_decay, cfg.network.transformer_lr_mult),
                            momentum=t.momentum, weight_decay=t.weight_decay)

    start = 0
    resume_from = latest_checkpoint(snapshot_dir) if t.resume else None
    if resume_from is not None:
        state = load_checkpoint(resume_from)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["iteration"])
        per_rank = state["extra"].get("rng_per_rank", [])
        if len(per_rank) == info.world_size:
            set_rng_state(per_rank[info.rank])
        else:
            print(f"[train] {resume_from} was written by {len(per_rank)} processes, this run has "
                  f"{info.world_size}: random streams restart from the seed (the run continues, not bit-exactly)")
            seed_everything(cfg.seed + info.rank + start)
    if info.world_size > 1:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.network.hierarchy)

    loader = build_train_loader(cfg, dataset, info.rank, info.world_size, batch, cfg.seed)
    max_over_processes = functools.partial(du.all_reduce_max, device=device)
    batches = loader.iterate_from(start)
    logger = TrainLogger(snapshot_dir, info.is_main, start, t.max_iteration, t.log_step,
                         images_per_iteration=t.batch_size, desc=snapshot_dir.name)
    if resume_from is not None:
        logger.write(f"resumed from {resume_from} at iteration {start}")
    final = checkpoint_path(snapshot_dir, t.max_iteration)
    model.train()
    try:
        for it in range(start, t.max_iteration):
            data = next(batches)
            images = data["image"].to(device, non_blocking=True)
            oversegmentation = data["oversegmentation"].to(device, non_blocking=True)
            if t.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            lr = learning_rate(it, t.base_lr, t.max_iteration, t.warmup_iteration, t.lr_policy,
                               t.decay_fractions, t.poly_power)

            out = model(images, oversegmentation, amp=t.amp, max_over_processes=max_over_processes)
            pixels = du.all_reduce_sum(torch.tensor(float(out.segments.pixel_index.numel()), device=device))
            terms = hsg_losses(out, t, gather=du.all_gather_variable,
                               pixel_normalizer=pixels / info.world_size, image_offset=info.rank * batch)
            check_finite(terms, it, device)
            loss = total_loss(terms)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step(lr)

            scalars = du.all_reduce_mean({k: v.item() for k, v in terms.items()}, device)
            scalars.update(loss=sum(v for k, v in scalars.items() if k != "accuracy"), lr=lr)
            logger.log(it, scalars)
            if t.tensorboard_step > 0 and it % t.tensorboard_step == 0 and info.is_main:
                with torch.no_grad():
                    logger.images(it, training_pictures(images, oversegmentation, out, cfg.network.pixel_means,
                                                        cfg.network.pixel_stds))
            done = it + 1
            if done % t.snapshot_step == 0 or done == t.max_iteration:
                rng_per_rank = du.all_gather_object(rng_state())
                if info.is_main:
                    save_checkpoint(checkpoint_path(snapshot_dir, done), model, optimizer, done, cfg.to_dict(),
                                    extra={"rng_per_rank": rng_per_rank})
                du.barrier()
    finally:
        logger.close()
        if getattr(dataset, "bad_samples", None):
            print(f"[train] skipped {len(dataset.bad_samples)} bad sample(s): "
                  f"{', '.join(map(str, dataset.bad_samples[:5]))}")
    return final


__all__ = ["train", "seed_everything", "per_process_batch", "check_finite"]
