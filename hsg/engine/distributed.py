"""Everything that touches ``torch.distributed``, in one place.

HSG's contrastive losses compare every pixel with the segments of the *global* batch, so the segment
prototypes of all processes are gathered with their gradients (the original gathered onto one GPU with
a differentiable ``Gather``). Here a process group launched by ``torchrun`` (NCCL on GPUs, gloo on the
CPU) does the same with :func:`all_gather_variable`; without a launcher every function degrades to the
single-process identity, so the same training code runs everywhere.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from hsg.device import select_device


@dataclass
class DistInfo:
    """Where this process sits: its rank, the number of processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_distributed(device: str = "auto", timeout_minutes: float = 10) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, or run alone.

    ``device`` is the config's ``device`` key (see :func:`select_device`); each process takes the GPU of
    its ``LOCAL_RANK``; the backend is NCCL on GPUs and gloo on the CPU. ``timeout_minutes``
    (``train.dist_timeout_minutes``) bounds every collective operation: with gloo a stalled one raises
    (see :func:`is_timeout`), with NCCL PyTorch's watchdog ends the process, naming the collective.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = select_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size == 1:
        return DistInfo(device=dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not is_distributed():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend)


def is_timeout(error: BaseException) -> bool:
    """True for the error a collective operation raises when another process did not answer in time."""
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("timed out" in text or "timeout" in text)


def broadcast_object(obj, source: int = 0):
    """``obj`` of process ``source`` on every process (a picklable value)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=source)
    return box[0]


def cleanup() -> None:
    """Leave the process group once every rank is done with it.

    Call it only after the objects that hold the group (the ``DistributedDataParallel`` wrapper, its
    reducer, autograd graphs of gathered tensors) are gone: gloo aborts the process at exit
    ("terminate called without an active exception") when a DDP reducer outlives its destroyed group.
    The barrier keeps a fast rank from tearing its connections down while a slow one still uses them;
    ``gc.collect()`` frees a wrapper that only a reference cycle still keeps alive.
    """
    if is_distributed():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward returns to each process the summed gradient of its own slice.

    Written with ``all_reduce`` (supported by every backend) rather than ``reduce_scatter``/``all_to_all``,
    which gloo lacks on some versions.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world = dist.get_world_size()
        out = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(out, tensor.contiguous())
        return torch.stack(out, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[dist.get_rank()]


def all_gather_variable(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate ``tensor`` (first dimension may differ per process) over all processes, in rank order.

    Float tensors that require grad stay differentiable: the gradient of every process's loss flows back
    to the process that owns the rows. Returns the concatenation and this process's row offset in it.
    """
    if not is_distributed():
        return tensor, 0
    world, rank = dist.get_world_size(), dist.get_rank()
    size = torch.tensor([tensor.shape[0]], device=tensor.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    padded = tensor
    if tensor.shape[0] < longest:
        pad = tensor.new_zeros((longest - tensor.shape[0],) + tuple(tensor.shape[1:]))
        padded = torch.cat([tensor, pad], dim=0)
    if tensor.requires_grad:
        stacked = _AllGatherWithGrad.apply(padded)
    else:
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous())
        stacked = torch.stack(parts, dim=0)
    gathered = torch.cat([stacked[r, : counts[r]] for r in range(world)], dim=0)
    return gathered, sum(counts[:rank])


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum over processes (not differentiable; for counts and logging)."""
    if not is_distributed():
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def all_reduce_max(value: int, device: torch.device) -> int:
    """The largest of an integer over processes."""
    if not is_distributed():
        return value
    t = torch.tensor([value], device=device, dtype=torch.long)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def all_gather_object(obj):
    """A list with every process's ``obj`` (picklable), in rank order."""
    if not is_distributed():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_to_main(obj):
    """Every process's ``obj`` (picklable) in rank order on process 0; None on the others (memory: only the
    main process holds them all)."""
    if not is_distributed():
        return [obj]
    out = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def all_reduce_mean(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average a dict of floats over processes (for logging the same numbers on every rank)."""
    if not is_distributed() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= dist.get_world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


class _AllReduceWithGrad(torch.autograd.Function):
    """Sum over processes; the gradient of a sum is the (summed) incoming gradient on every process."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        tensor = tensor.clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose statistics are taken over the batch of all processes, on any backend.

    ``nn.SyncBatchNorm`` needs CUDA; this one uses two differentiable all-reduces (sum, then the centred
    sum of squares, which is numerically safe) so that the CPU/gloo path computes exactly what a single
    process would on the global batch. It accepts 2-D ``[N, C]`` and N-D ``[N, C, ...]`` inputs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        count = torch.tensor([float(x.numel() // x.shape[1])], device=x.device)
        count = all_reduce_sum(count)
        mean = _AllReduceWithGrad.apply(xf.sum(dim=dims)) / count
        centred = xf - mean.view(shape)
        var = _AllReduceWithGrad.apply(centred.pow(2).sum(dim=dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * count / (count - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.detach().to(self.running_var.dtype), alpha=m)
        out = centred / torch.sqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input, got {x.dim()}-D")


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm by its synchronised version: ``nn.SyncBatchNorm`` on CUDA, else ours."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_global(module)


def _convert_global(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
        if module.track_running_stats:
            out.running_mean.copy_(module.running_mean)
            out.running_var.copy_(module.running_var)
            out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert_global(child))
    return out
