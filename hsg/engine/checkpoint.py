"""Checkpoints that survive a crash: atomic writes, everything needed to continue the same trajectory.

A checkpoint holds the model, the optimiser (momentum buffers), the iteration, every random state
(torch, CUDA, numpy, Python) and the resolved config. It is written to a temporary file in the same
folder, flushed to disk and renamed over the final name, so a process killed while saving leaves either
the previous files or the new one, never a torn file. Resuming picks the newest checkpoint.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from hsg.errors import CheckpointError
from hsg.files import atomic_write
from hsg.models.convert import as_ours
from hsg.models.model import HIERARCHY_MODULES

CHECKPOINT_RE = re.compile(r"^model-(\d+)\.pth$")
FORMAT = "hsg-checkpoint-v1"


def checkpoint_path(snapshot_dir: str | Path, iteration: int) -> Path:
    """``snapshot_dir/model-<iteration>.pth``; ``iteration`` counts completed iterations."""
    return Path(snapshot_dir) / f"model-{iteration}.pth"


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


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel (or the module itself)."""
    return model.module if hasattr(model, "module") else model


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


def checkpoint_iteration(path: str | Path) -> int:
    """The iteration in a checkpoint's name (``model-<iteration>.pth``)."""
    match = CHECKPOINT_RE.match(Path(path).name)
    if match is None:
        raise CheckpointError(f"{path}: not a checkpoint name (model-<iteration>.pth)")
    return int(match.group(1))


def list_checkpoints(snapshot_dir: str | Path) -> list[Path]:
    """The checkpoints of a run folder, by increasing iteration (empty when there are none)."""
    folder = Path(snapshot_dir)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if CHECKPOINT_RE.match(p.name)), key=checkpoint_iteration)


def latest_checkpoint(snapshot_dir: str | Path) -> Path | None:
    """The checkpoint with the highest iteration in ``snapshot_dir``, or None."""
    found = list_checkpoints(snapshot_dir)
    return found[-1] if found else None


def read_checkpoint_file(path: str | Path) -> object:
    """``torch.load`` on the CPU with ``weights_only=True`` (a checkpoint cannot run code), turning every
    failure into a :class:`CheckpointError` naming the file. The one reader of checkpoint files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors here; all mean "unreadable"
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e})") from e


def load_checkpoint(path: str | Path) -> dict:
    """Read one of our training checkpoints (for resuming), with a clear error if the file is not one."""
    state = read_checkpoint_file(path)
    if not (isinstance(state, dict) and state.get("format") == FORMAT):
        raise CheckpointError(f"{path}: not an hsg training checkpoint (to start from the original's weights, "
                              f"set network.pretrained instead of resuming)")
    return state


def check_fits(model: nn.Module, state: dict[str, torch.Tensor], source: str | Path,
               optional: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Raise a :class:`CheckpointError` naming the first mismatched keys and shapes unless the state dict
    fits ``model``; keys under the module prefixes ``optional`` may be missing or extra. Returns the
    ``missing`` and ``unexpected`` keys."""
    own = unwrap(model).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    bad_missing = [k for k in missing if not k.startswith(optional)]
    bad_unexpected = [k for k in unexpected if not k.startswith(optional)]
    shape = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    if bad_missing or bad_unexpected or shape:
        lines = []
        if bad_missing:
            lines.append(f"missing from the checkpoint: {bad_missing[:5]}{' ...' if len(bad_missing) > 5 else ''}")
        if bad_unexpected:
            lines.append(f"not in the model: {bad_unexpected[:5]}{' ...' if len(bad_unexpected) > 5 else ''}")
        if shape:
            lines.append("shape mismatch: " + "; ".join(shape[:3]))
        raise CheckpointError(f"{source} does not fit the model built from the config "
                              f"(network.backbone_depth/backbone_width/embedding_dim/hierarchy?): " + " | ".join(lines))
    return {"missing": missing, "unexpected": unexpected}


def load_model_weights(model: nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Load a checkpoint's weights (ours or the original's) into ``model``.

    Stage 2 initialises from stage 1, whose checkpoint has no transformer weights, and inference does not
    need the transformers: so keys missing from the checkpoint are allowed only for the hierarchy modules,
    and transformer keys without a place in the model are ignored. Any other mismatch (a different depth
    or embedding size, say) is an error naming the keys.
    """
    state = as_ours(read_checkpoint_file(path), source=str(path))
    keys = check_fits(model, state, path, optional=tuple(f"{name}." for name in HIERARCHY_MODULES))
    own = unwrap(model).state_dict()
    unwrap(model).load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return keys
