"""Checkpoint files as every part reads them: their names in a run folder, reading one safely, and
loading its weights into a model.

Training (``hsg.engine``) writes checkpoints and inference (``hsg.inference``, ``hsg.api``) reads them;
both need the same reader, so it lives here, below both, beside the model it fills. Writing, random
states and resuming stay with training in :mod:`hsg.engine.checkpoint`.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn

from hsg.errors import CheckpointError
from hsg.models.convert import as_ours
from hsg.models.model import HIERARCHY_MODULES

CHECKPOINT_RE = re.compile(r"^model-(\d+)\.pth$")
FORMAT = "hsg-checkpoint-v1"  # the "format" entry of our training checkpoints


def checkpoint_path(snapshot_dir: str | Path, iteration: int) -> Path:
    """``snapshot_dir/model-<iteration>.pth``; ``iteration`` counts completed iterations."""
    return Path(snapshot_dir) / f"model-{iteration}.pth"



def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel (or the module itself)."""
    return model.module if hasattr(model, "module") else model



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


__all__ = ["CHECKPOINT_RE", "FORMAT", "check_fits", "checkpoint_iteration", "checkpoint_path", "latest_checkpoint",
           "list_checkpoints", "load_model_weights", "read_checkpoint_file", "unwrap"]
