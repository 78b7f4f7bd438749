"""The training loop: one process, one GPU, or many GPUs and nodes under ``torchrun``.

One visible loop (as DINO's and MAE's): fetch a batch, schedule the learning rate, forward, losses over
the global batch, check that every term is finite, backward, step, log, checkpoint. Everything
distributed lives in :mod:`hsg.engine.distributed`; writing checkpoints in :mod:`hsg.engine.checkpoint`;
the ownership of the run folder in :mod:`hsg.engine.run_folder`; stopping on a signal in
:mod:`hsg.engine.preemption`.

The config's ``train.batch_size`` is the global batch (images per iteration over all processes) and the
learning rate is used as given, so a run means the same thing on 1 or 64 processes. The per-pixel losses
are normalised by the global pixel count, so the average that DDP optimises is the global mean.
"""

from __future__ import annotations

import functools
import random
import signal
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from hsg.config.config import Config
from hsg.data.datasets import TrainDataset
from hsg.data.loader import build_train_loader
from hsg.engine import distributed as du
from hsg.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from hsg.engine.logger import TrainLogger
from hsg.engine.optim import MomentumSGD, learning_rate, param_groups
from hsg.engine.preemption import StopRequests
from hsg.engine.run_folder import RunFolder, config_changes, describe_changes
from hsg.errors import (CheckpointError, ConfigError, DiskFullError, Interrupted, NonFiniteLossError, RunFolderError,
                        StalledError)
from hsg.losses.hsg_loss import hsg_losses, total_loss
from hsg.models.model import build_model
from hsg.models.weights import check_fits, checkpoint_path, load_model_weights
from hsg.vis.pictures import training_pictures


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def per_process_batch(batch_size: int, world_size: int) -> int:
    if batch_size % world_size:
        raise ConfigError(f"train.batch_size={batch_size} (the global batch) is not divisible by the "
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


def _claim_folder(folder: RunFolder, cfg: Config, info: du.DistInfo) -> tuple[Path | None, dict | None]:
    """Rank 0 takes the run folder (lock, one run per folder, stale temporaries) and picks the checkpoint
    to resume from; every rank learns the outcome, and raises the same error if there is one."""
    outcome: tuple = ("ok", None, [])
    state = None
    if info.is_main:
        try:
            notes = [note for note in [folder.acquire()] if note]
            path = None
            if cfg.train.resume:
                path, state, skipped = folder.newest_readable_checkpoint()
                notes += skipped
            else:
                deleted = folder.claim_for_a_fresh_run(cfg.train.overwrite)
                if deleted:
                    notes.append(f"train.overwrite: deleted the previous run's files in {folder.path} "
                                 f"({len(deleted)}: {', '.join(p.name for p in deleted[:4])} ...)")
            removed = folder.remove_temporaries()
            if removed:
                notes.append(f"removed {len(removed)} half-written file(s) of an interrupted save")
            outcome = ("ok", None if path is None else str(path), notes)
        except (RunFolderError, CheckpointError) as e:
            outcome = ("error", type(e).__name__, str(e))
    outcome = du.broadcast_object(outcome)
    if outcome[0] == "error":
        raise {"RunFolderError": RunFolderError, "CheckpointError": CheckpointError}[outcome[1]](outcome[2])
    for note in outcome[2]:
        if info.is_main:
            print(f"[train] {note}")
    path = None if outcome[1] is None else Path(outcome[1])
    if path is not None and state is None:
        state = load_checkpoint(path)
    return path, state


def _check_resume_fits(model: nn.Module, state: dict, source: Path, cfg: Config) -> None:
    """The checkpoint's weights fit the model built from ``cfg``; otherwise the :class:`CheckpointError` of
    :func:`check_fits` also names the ``network.*`` keys changed since the checkpoint was written (the
    architecture cannot change in a resumed run: the weights would not load)."""
    try:
        check_fits(model, state["model"], source)
    except CheckpointError as e:
        saved = state.get("config")
        changed = config_changes(saved, cfg.to_dict(), prefix="network.") if isinstance(saved, dict) else []
        if not changed:
            raise
        raise CheckpointError(f"{e} | changed since the checkpoint: {describe_changes(changed)}; a resumed run "
                              f"keeps its architecture: set those keys back, or start a new run in "
                              f"another --snapshot_dir") from None


def _keep_history(folder: RunFolder, cfg: Config, start: int) -> None:
    """A resume that changes settings prints the changed keys in one line and keeps the config that ran
    the iterations up to ``start`` (:meth:`RunFolder.keep_config_history`), so a long run's history is not
    overwritten by its latest ``config.yaml``."""
    saved = folder.saved_config()
    if saved is None:
        return
    changed = config_changes(saved, cfg.to_dict())
    if changed:
        kept = folder.keep_config_history(start)
        print(f"[train] resuming at iteration {start} with changed settings: {describe_changes(changed)} "
              f"(the earlier config is kept as {kept.name}; config.yaml is this run's)")


def train(cfg: Config, snapshot_dir: str | Path, data_dir: str | None = None,
          data_list: str | None = None) -> Path:
    """Train the model described by ``cfg`` in ``snapshot_dir`` and return the path of the final checkpoint.

    The run owns the folder while it lives (:mod:`hsg.engine.run_folder`); SIGTERM and Ctrl-C stop it
    after the current iteration with a checkpoint (:mod:`hsg.engine.preemption`); a collective operation
    that waits longer than ``train.dist_timeout_minutes`` ends it with :class:`StalledError`.
    """
    snapshot_dir = Path(snapshot_dir)
    t = cfg.train
    info = du.init_distributed(cfg.device, t.dist_timeout_minutes)
    device = info.device
    seed_everything(cfg.seed + info.rank)
    data_dir = data_dir if data_dir is not None else cfg.dataset.data_dir
    data_list = data_list or cfg.dataset.train_data_list
    if not data_list:
        raise ConfigError("no training list: pass --data_list or set dataset.train_data_list")
    batch = per_process_batch(t.batch_size, info.world_size)

    with RunFolder(snapshot_dir) as folder:
        resume_from, state = _claim_folder(folder, cfg, info)
        dataset = TrainDataset(cfg, data_dir, data_list)
        model = build_model(cfg).to(device)
        start = 0
        if state is not None:  # checked against the config's model before anything is written
            _check_resume_fits(model, state, resume_from, cfg)
            model.load_state_dict(state["model"])
            start = int(state["iteration"])
        elif cfg.network.pretrained:
            load_model_weights(model, cfg.network.pretrained)
        if cfg.network.use_syncbn and info.world_size > 1:
            model = du.convert_sync_batchnorm(model, device)
        if t.channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = MomentumSGD(param_groups(model, t.weight_decay, cfg.network.transformer_lr_mult),
                                momentum=t.momentum, weight_decay=t.weight_decay)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            per_rank = state["extra"].get("rng_per_rank", [])
            if len(per_rank) == info.world_size:
                set_rng_state(per_rank[info.rank])
            else:
                print(f"[train] {resume_from} was written by {len(per_rank)} processes, this run has "
                      f"{info.world_size}: random streams restart from the seed (the run continues, not bit-exactly)")
                seed_everything(cfg.seed + info.rank + start)
        if info.is_main:
            if resume_from is not None:
                _keep_history(folder, cfg, start)
            cfg.dump(snapshot_dir / "config.yaml")
            folder.truncate_log(start)  # the records of the iterations that will be redone
        if info.world_size > 1:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=cfg.network.hierarchy)

        loader = build_train_loader(cfg, dataset, info.rank, info.world_size, batch, cfg.seed)
        batches = loader.iterate_from(start)
        max_over_processes = functools.partial(du.all_reduce_max, device=device)
        logger = TrainLogger(snapshot_dir, info.is_main, start, t.max_iteration, t.log_step,
                             images_per_iteration=t.batch_size, desc=snapshot_dir.name)
        if resume_from is not None:
            logger.write(f"resumed from {resume_from} at iteration {start}")

        def snapshot(done: int) -> Path:
            path = checkpoint_path(snapshot_dir, done)
            rng_per_rank = du.all_gather_object(rng_state())
            if info.is_main:
                try:
                    save_checkpoint(path, model, optimizer, done, cfg.to_dict(), extra={"rng_per_rank": rng_per_rank})
                except DiskFullError as e:
                    raise DiskFullError(f"{e}; the previous checkpoints are intact: free some space and continue "
                                        f"with --opts train.resume=true") from e
            du.barrier()
            return path

        model.train()
        phase, it = "the first batch", start
        try:
            with StopRequests() as stop:
                for it in range(start, t.max_iteration):
                    phase = "loading a batch"
                    data = next(batches)
                    images = data["image"].to(device, non_blocking=True)
                    oversegmentation = data["oversegmentation"].to(device, non_blocking=True)
                    if t.channels_last:
                        images = images.contiguous(memory_format=torch.channels_last)
                    lr = learning_rate(it, t.base_lr, t.max_iteration, t.warmup_iteration, t.lr_policy,
                                       t.decay_fractions, t.poly_power)

                    phase = "the forward pass and the losses (gathering segments)"
                    out = model(images, oversegmentation, amp=t.amp, max_over_processes=max_over_processes)
                    pixels = du.all_reduce_sum(torch.tensor(float(out.segments.pixel_index.numel()), device=device))
                    terms = hsg_losses(out, t, gather=du.all_gather_variable,
                                       pixel_normalizer=pixels / info.world_size, image_offset=info.rank * batch)
                    check_finite(terms, it, device)
                    loss = total_loss(terms)
                    phase = "the backward pass (gradient all-reduce)"
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step(lr)

                    phase = "logging"
                    scalars = du.all_reduce_mean({k: v.item() for k, v in terms.items()}, device)
                    scalars.update(loss=sum(v for k, v in scalars.items() if k != "accuracy"), lr=lr)
                    logger.log(it, scalars)
                    if t.tensorboard_step > 0 and it % t.tensorboard_step == 0 and info.is_main:
                        with torch.no_grad():
                            logger.images(it, training_pictures(images, oversegmentation, out,
                                                                cfg.network.pixel_means, cfg.network.pixel_stds))
                    done = it + 1
                    phase = "agreeing whether to stop"
                    signum = du.all_reduce_max(stop.signum or 0, device)  # every process stops after one iteration
                    phase = "writing a checkpoint"
                    if done % t.snapshot_step == 0 or done == t.max_iteration or signum:
                        path = snapshot(done)
                        if signum and done < t.max_iteration:
                            raise Interrupted(f"{signal.Signals(signum).name} after iteration {done}: wrote {path}; "
                                              f"continue with --opts train.resume=true", signum)
        except RuntimeError as e:
            if isinstance(e, (NonFiniteLossError, Interrupted)) or not du.is_timeout(e):
                raise
            raise StalledError(f"iteration {it + 1}: no answer from the other processes within "
                               f"train.dist_timeout_minutes={t.dist_timeout_minutes:g} during {phase}: a process "
                               f"hangs or died; the last checkpoint is intact") from e
        finally:
            logger.close()
            if getattr(dataset, "bad_samples", None):
                print(f"[train] skipped {len(dataset.bad_samples)} bad sample(s): "
                      f"{', '.join(map(str, dataset.bad_samples[:5]))}")
    return checkpoint_path(snapshot_dir, t.max_iteration)


__all__ = ["train", "seed_everything", "per_process_batch", "check_finite"]
