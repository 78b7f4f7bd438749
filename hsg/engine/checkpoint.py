"""Checkpoints that survive a crash: atomic writes, everything needed to continue the same trajectory.

A checkpoint holds the model, the optimiser (momentum buffers), the iteration, every random state
(torch, CUDA, numpy, Python) and the resolved config. It is written to a temporary file in the same
folder, flushed to disk and renamed over the final name, so a process killed while saving leaves either
the previous files or the new one, never a torn file. Resuming picks the newest checkpoint. Reading a
checkpoint file and loading its weights into a model are shared with inference: :mod:`hsg.models.weights`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from hsg.errors import CheckpointError
from hsg.files import atomic_write
from hsg.models.weights import FORMAT, read_checkpoint_file, unwrap



def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file, fsync, then rename over ``path`` (see :mod:`hsg.files`)."""
    with atomic_write(path, fsync=True) as f:
        torch.save(obj, f)
    return Path(path)


def rng_state() -> dict[str, Any]:
    """Every random state, as plain tensors and Python values (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
             "python": list(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    iteration: int, config: dict, extra: dict | None = None) -> Path:
    state = {
        "format": FORMAT,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "iteration": iteration,
        "rng": rng_state(),
        "config": config,
        "extra": extra or {},
    }
    return atomic_save(state, path)


def load_checkpoint(path: str | Path) -> dict:
    """Read one of our training checkpoints (for resuming), with a clear error if the file is not one."""
    state = read_checkpoint_file(path)
    if not (isinstance(state, dict) and state.get("format") == FORMAT):
        raise CheckpointError(f"{path}: not an hsg training checkpoint (to start from the original's weights, "
                              f"set network.pretrained instead of resuming)")
    return state


