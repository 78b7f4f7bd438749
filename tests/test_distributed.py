"""Two CPU processes with gloo compute the same loss and gradients as one process on the same global batch.

This is what makes the contrastive losses "see the global batch": prototypes are gathered with their
gradients, BatchNorm statistics are synchronised (``network.use_syncbn``), per-pixel losses are normalised
by the global pixel count, and DDP averages the gradients.

Both sides run in float64, so that the comparison is exact up to rounding (~1e-12): in float32 the stage-2
gradients are ill-conditioned (BatchNorm over a handful of rows in the transformers' target MLP amplifies
rounding to ~1e-3 relative), which would hide a real error behind a loose tolerance.
"""

from __future__ import annotations

import functools
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from hsg.config.config import load_config
from hsg.engine import distributed as du
from hsg.losses.hsg_loss import hsg_losses, total_loss
from hsg.models.model import build_model

OPTS = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.output_stride=8", "network.hierarchy=true", "network.transformer_dropout=0.0",
        "network.kmeans_num_clusters=[2,2]", "network.kmeans_iterations=3", "network.use_syncbn=true",
        "train.fine_hrchy_loss_types=segsort", "train.coarse_hrchy_loss_types=segsort",
        "train.dmon_loss_types=dmon", "train.centroid_cont_loss_types=segsort"]
IMAGES = 4  # global batch: 4 images = 8 views


def _batch():
    g = torch.Generator().manual_seed(3)
    images = torch.randn(2 * IMAGES, 3, 48, 48, generator=g)
    # Regions: a coarse random grid per image shared by both views, some padding on odd views.
    cells = torch.randint(0, 9, (IMAGES, 6, 6), generator=g)
    region = cells.repeat_interleave(2, dim=0).repeat_interleave(8, 1).repeat_interleave(8, 2)
    region[1::2, 40:, :] = -1
    return images, region


def _step(model, cfg, images, region, rank, world):
    out = model(images, region, max_over_processes=functools.partial(du.all_reduce_max, device=images.device))
    pixels = du.all_reduce_sum(torch.tensor(float(out.segments.pixel_index.numel())))
    terms = hsg_losses(out, cfg.train, gather=du.all_gather_variable, pixel_normalizer=pixels / world,
                       image_offset=rank * (images.shape[0] // 2))
    loss = total_loss(terms)
    loss.backward()
    return loss.detach(), {k: v.detach() for k, v in terms.items()}


def _rank_step(rank: int, world: int, node_padding: int, device: torch.device):
    """One DDP step on this rank's half of the batch; the DDP wrapper dies with this frame."""
    cfg = load_config(opts=OPTS + [f"network.node_padding={node_padding}"])
    torch.manual_seed(0)
    model = du.convert_sync_batchnorm(build_model(cfg), device)
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    images, region = _batch()
    per = images.shape[0] // world
    sl = slice(rank * per, (rank + 1) * per)
    loss, terms = _step(ddp, cfg, images[sl], region[sl], rank, world)
    losses = du.all_reduce_mean({k: float(v) for k, v in terms.items()}, device)
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return float(loss), losses, grads


def _worker(rank: int, world: int, port: int, node_padding: int, result_path: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    info = du.init_distributed("cpu")
    # The step runs in its own function so that DDP is freed before the group is destroyed (see du.cleanup).
    result = _rank_step(rank, world, node_padding, info.device)
    if rank == 0:
        torch.save(result, result_path)
    du.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("node_padding", [64, 0])
def test_two_gloo_processes_equal_one_process(node_padding, tmp_path):
    cfg = load_config(opts=OPTS + [f"network.node_padding={node_padding}"])
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        model = build_model(cfg)
        images, region = _batch()
        loss, terms = _step(model, cfg, images, region, 0, 1)
    finally:
        torch.set_default_dtype(torch.float32)
    reference = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    result = tmp_path / "rank0.pt"
    mp.start_processes(_worker, args=(2, _free_port(), node_padding, str(result)), nprocs=2, join=True,
                       start_method="spawn")
    _, dist_terms, dist_grads = torch.load(result)

    for k, v in terms.items():
        assert dist_terms[k] == pytest.approx(float(v), rel=1e-10, abs=1e-12), k
    assert set(dist_grads) == set(reference)
    scale = max(g.abs().max().item() for g in reference.values())
    for k, g in reference.items():
        torch.testing.assert_close(dist_grads[k], g, atol=1e-9 * scale, rtol=1e-7, msg=k)
