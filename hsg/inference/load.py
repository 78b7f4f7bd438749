"""The model an inference script runs: checkpoint -> model on the right device, at the test output stride."""

from __future__ import annotations

from pathlib import Path

import torch

from hsg.config.config import Config
from hsg.device import select_device
from hsg.errors import CheckpointError
from hsg.models.model import HIERARCHY_MODULES, HSGModel, build_model
from hsg.models.weights import latest_checkpoint, load_model_weights


def resolve_checkpoint(snapshot_dir: str | None, checkpoint: str | None) -> Path | None:
    """``--checkpoint FILE``, the newest checkpoint of ``--snapshot_dir``, or None for ``untrained`` (the
    randomly initialised network, drawn from ``cfg.seed``: the baseline a trained model must beat)."""
    if checkpoint == "untrained":
        return None
    if checkpoint:
        return Path(checkpoint)
    if not snapshot_dir:
        raise CheckpointError("give --checkpoint FILE or --snapshot_dir DIR (whose newest model-*.pth is used)")
    found = latest_checkpoint(snapshot_dir)
    if found is None:
        raise CheckpointError(f"no checkpoint (model-*.pth) in {snapshot_dir}")
    return found


def load_model(cfg: Config, checkpoint: Path | None, device: torch.device, need_hierarchy: bool = False
               ) -> HSGModel:
    """The model of ``cfg`` with the checkpoint's weights (None: untrained, for baselines), in eval mode at
    the test output stride.

    ``need_hierarchy``: the caller draws the fine and coarse groups, so the config must build the
    transformers and the checkpoint must hold their weights; a stage-1 checkpoint would leave them at
    their random initialisation, which is refused with the missing weights named.
    """
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    if need_hierarchy and not model.hierarchy:
        raise CheckpointError("the fine and coarse groups need a stage-2 model: set network.hierarchy: true "
                              "(use the stage-2 config the checkpoint was trained with)")
    if checkpoint is not None:
        missing = load_model_weights(model, checkpoint)["missing"]
        untrained = sorted({k.split(".", 1)[0] for k in missing if k.startswith(HIERARCHY_MODULES)})
        if need_hierarchy and untrained:
            raise CheckpointError(f"{checkpoint} has no weights for {', '.join(untrained)} (a stage-1 checkpoint?): "
                                  f"its groups would come from untrained transformers; give a stage-2 checkpoint")
    model.set_output_stride(cfg.network.test_output_stride)
    return model.to(device).eval()


def prepare_model(cfg: Config, snapshot_dir: str | None, checkpoint: str | None, need_hierarchy: bool = False
                  ) -> tuple[HSGModel, torch.device, Path | None]:
    """What every inference script starts with: the device, the checkpoint and the model ready to run."""
    device = select_device(cfg.device)
    path = resolve_checkpoint(snapshot_dir, checkpoint)
    return load_model(cfg, path, device, need_hierarchy), device, path


__all__ = ["load_model", "prepare_model", "resolve_checkpoint"]
