"""The model an inference program runs: its config (from the checkpoint, a preset or a file), the
checkpoint's weights, the device, the test output stride. The one way from a checkpoint to a model, for
the programs (``pyenv/readout.py``, ``inference.py``, ``hierarchy.py``, ...) and for :func:`hsg.load`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from hsg.config.config import Config, load_config
from hsg.config.presets import preset_names, resolve_config_path
from hsg.device import select_device
from hsg.errors import CheckpointError
from hsg.models.convert import as_ours
from hsg.models.model import HIERARCHY_MODULES, HSGModel, build_model
from hsg.models.resnet import DEPTHS
from hsg.models.weights import FORMAT, latest_checkpoint, load_model_weights, read_checkpoint_file

DEFAULT_RELEASE_PRESET = "coco_stage2"  # the original authors' release: COCO-trained ResNet-50 stage-2 models


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


def network_shape(state: Mapping[str, torch.Tensor]) -> dict[str, object]:
    """The ``network.*`` keys that a state dict (our names) fixes: backbone depth and width, embedding size,
    whether it has the stage-2 modules, and the transformers' layer counts. A checkpoint without a config
    (the original authors' release, a converted file) is loaded with these over its preset."""
    blocks = []
    for stage in range(1, 5):
        ids = {int(m.group(1)) for k in state for m in [re.match(rf"backbone\.layer{stage}\.(\d+)\.", k)] if m}
        blocks.append(len(ids))
    kind = "bottleneck" if any(".conv3." in k for k in state if k.startswith("backbone.")) else "basic"
    depth = next((d for d, (k, counts) in DEPTHS.items() if k == kind and counts == tuple(blocks)), None)
    if depth is None or "backbone.stem.conv.weight" not in state or "head.3.weight" not in state:
        raise CheckpointError(f"cannot read the network's shape off the checkpoint's weights ({kind} blocks "
                              f"{blocks}): not an HSG ResNet checkpoint?")
    shape: dict[str, object] = {"network.backbone_depth": depth,
                                "network.backbone_width": int(state["backbone.stem.conv.weight"].shape[0]),
                                "network.embedding_dim": int(state["head.3.weight"].shape[0]),
                                "network.hierarchy": any(k.startswith("fine_transformer.") for k in state)}
    if shape["network.hierarchy"]:
        for part in ("encoder", "decoder"):
            ids = {k.split(".")[2] for k in state if k.startswith(f"fine_transformer.{part}_layers.")}
            shape[f"network.transformer_{part}_layers"] = len(ids)
    return shape


def config_for(spec: str, preset: str | None = None, opts: Sequence[str] = ()) -> tuple[Config, Path | None]:
    """The config and checkpoint that ``spec`` names: ``(config stored in the checkpoint + opts, file)`` for
    one of our checkpoints; ``(preset + the network's shape read off the weights + opts, file)`` for a file
    without a config (the original authors' release; ``preset`` defaults to their COCO recipe); ``(preset
    + opts, None)`` when ``spec`` is a preset's name or a YAML file (an untrained network)."""
    path = Path(spec)
    if path.is_file() and path.suffix not in (".yaml", ".yml"):
        state = read_checkpoint_file(path)
        if isinstance(state, dict) and state.get("format") == FORMAT and isinstance(state.get("config"), dict):
            cfg = load_config(preset).merge_from_dict(state["config"], source=f"{path} (its config)")
        else:
            cfg = load_config(preset or DEFAULT_RELEASE_PRESET)
            cfg.merge_from_dict(network_shape(as_ours(state, source=str(path))), source=f"{path} (its weights)")
        cfg.merge_from_list(opts)
        return cfg, path
    if resolve_config_path(spec).is_file():
        return load_config(spec, opts), None
    raise CheckpointError(f"{spec}: neither a checkpoint file nor a config (presets: {', '.join(preset_names())})")


def prepare_model(cfg: Config, snapshot_dir: str | None, checkpoint: str | None, need_hierarchy: bool = False
                  ) -> tuple[HSGModel, torch.device, Path | None]:
    """What every inference script starts with: the device, the checkpoint and the model ready to run."""
    device = select_device(cfg.device)
    path = resolve_checkpoint(snapshot_dir, checkpoint)
    return load_model(cfg, path, device, need_hierarchy), device, path


__all__ = ["config_for", "load_model", "network_shape", "prepare_model", "resolve_checkpoint"]
