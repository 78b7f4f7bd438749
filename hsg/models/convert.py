"""Convert state dicts between the original HSG parameter names and ours, both ways.

The original saves ``{'embedding_model': state_dict, 'prediction_model': state_dict}`` with names such as
``resnet_backbone.res2.0.conv1.weight``, ``conv_out.0.weight``, ``pos_embed.row_embed.weight`` and
``fine_hrchy_transformer._transformer.encoder.layers.0.self_attn.in_proj_weight``. Our HSG model holds
``backbone`` (:class:`hsg.models.resnet.ResNet`), ``head`` (:func:`hsg.models.head.embedding_head`),
``position`` (:class:`hsg.models.position.PositionEmbedding`), ``fine_queries`` / ``coarse_queries``
(:class:`hsg.models.position.QueryEmbedding`) and ``fine_transformer`` / ``coarse_transformer``
(:class:`hsg.models.transformer.TransformerClustering`). Every tensor keeps its shape and layout; only
names change, so converting is a pure renaming.

The renaming is a table of template pairs (:data:`RULES`). Each side of a pair is matched in full, so a
name that is not a parameter of the original (or of ours) is reported instead of silently passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import torch

from hsg.errors import CheckpointError

# Placeholders allowed inside RULES templates, with what each may match.
_FIELDS = {
    "param": r"weight|bias|running_mean|running_var|num_batches_tracked",
    "block": r"\d+",
    "unit": r"conv[1-3]|bn[1-3]|downsample\.[01]",
    "i": r"\d+",
    "j": r"[1-3]",
    "k": r"\d+",
    "level": r"fine|coarse",
    "attn": r"in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias",
}

_T_ORIG = "{level}_hrchy_transformer."
_T_OURS = "{level}_transformer."

# (original name template, our name template).
RULES: tuple[tuple[str, str], ...] = (
    ("resnet_backbone.conv1.conv1.{param}", "backbone.stem.conv.{param}"),
    ("resnet_backbone.conv1.bn1.{param}", "backbone.stem.bn.{param}"),
    *((f"resnet_backbone.res{s + 1}.{{block}}.{{unit}}.{{param}}", f"backbone.layer{s}.{{block}}.{{unit}}.{{param}}")
      for s in range(1, 5)),
    ("conv_out.{k}.{param}", "head.{k}.{param}"),
    ("pos_embed.row_embed.weight", "position.row.weight"),
    ("pos_embed.col_embed.weight", "position.col.weight"),
    ("{level}_query_embed._query_embedding.weight", "{level}_queries.weight"),
    (_T_ORIG + "_transformer.encoder.layers.{i}.self_attn.{attn}", _T_OURS + "encoder_layers.{i}.attn.{attn}"),
    (_T_ORIG + "_transformer.encoder.layers.{i}.linear{j}.{param}", _T_OURS + "encoder_layers.{i}.ffn{j}.{param}"),
    (_T_ORIG + "_transformer.encoder.layers.{i}.norm{j}.norm.{param}",
     _T_OURS + "encoder_layers.{i}.norm{j}.{param}"),
    (_T_ORIG + "_transformer.decoder.layers.{i}.self_attn.{attn}", _T_OURS + "decoder_layers.{i}.self_attn.{attn}"),
    (_T_ORIG + "_transformer.decoder.layers.{i}.multihead_attn.{attn}",
     _T_OURS + "decoder_layers.{i}.cross_attn.{attn}"),
    (_T_ORIG + "_transformer.decoder.layers.{i}.linear{j}.{param}", _T_OURS + "decoder_layers.{i}.ffn{j}.{param}"),
    (_T_ORIG + "_transformer.decoder.layers.{i}.norm{j}.norm.{param}",
     _T_OURS + "decoder_layers.{i}.norm{j}.{param}"),
    (_T_ORIG + "_transformer.decoder.norm.norm.{param}", _T_OURS + "decoder_norm.{param}"),
    (_T_ORIG + "_transformer.tgt_fc.{k}.{param}", _T_OURS + "target.{k}.{param}"),
    (_T_ORIG + "centroid_fc.{k}.{param}", _T_OURS + "centroid_head.{k}.{param}"),
    (_T_ORIG + "centroid_feat_fc.{k}.{param}", _T_OURS + "feature_head.{k}.{param}"),
)

# Top-level entries of our model whose names start like the original's, used to tell the formats apart.
_ORIGINAL_ROOTS = ("resnet_backbone.", "conv_out.", "pos_embed.", "fine_query_embed.", "coarse_query_embed.",
                   "fine_hrchy_transformer.", "coarse_hrchy_transformer.")


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if n % 2 == 0 else f"(?P<{p}>{_FIELDS[p]})" for n, p in enumerate(parts))
    return re.compile(pattern)


@lru_cache(maxsize=2)
def _compiled(to_ours: bool) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((_compile(src), dst) for src, dst in ((o, u) if to_ours else (u, o) for o, u in RULES))


def _rename(name: str, to_ours: bool) -> str | None:
    for pattern, target in _compiled(to_ours):
        match = pattern.fullmatch(name)
        if match:
            return target.format(**match.groupdict())
    return None


def _convert(state_dict: Mapping[str, torch.Tensor], to_ours: bool, source: str) -> dict[str, torch.Tensor]:
    converted: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for name, tensor in state_dict.items():
        new_name = _rename(name, to_ours)
        if new_name is None:
            unknown.append(name)
        else:
            converted[new_name] = tensor
    if unknown:
        kind = "the original HSG model" if to_ours else "our HSG model"
        shown = ", ".join(unknown[:10]) + (f", ... ({len(unknown) - 10} more)" if len(unknown) > 10 else "")
        raise CheckpointError(f"{source}: {len(unknown)} key(s) are not parameters of {kind}: {shown}")
    return converted


def from_original(state_dict: Mapping[str, torch.Tensor], source: str = "state dict") -> dict[str, torch.Tensor]:
    """Original names -> ours (a ``module.`` prefix is stripped first). Raises :class:`CheckpointError`
    listing every key that is not a parameter of the original model; ``source`` names it in the message."""
    return _convert(strip_module_prefix(state_dict), to_ours=True, source=source)


def to_original(state_dict: Mapping[str, torch.Tensor], source: str = "state dict") -> dict[str, torch.Tensor]:
    """Our names -> the original's, the inverse of :func:`from_original`."""
    return _convert(strip_module_prefix(state_dict), to_ours=False, source=source)


def strip_module_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that (Distributed)DataParallel adds to every name."""
    return {name[len("module."):] if name.startswith("module.") else name: t for name, t in state_dict.items()}


def is_original(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True when the names are the original's (checked on the first key, ``module.`` stripped)."""
    first = next(iter(strip_module_prefix(state_dict)), "")
    return first.startswith(_ORIGINAL_ROOTS)


def extract_state_dict(checkpoint: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model state dict inside a loaded checkpoint.

    Accepts the original's ``{'embedding_model': sd, 'prediction_model': sd}`` (its prediction modules have
    no parameters, so only ``embedding_model`` is kept), ours ``{'model': sd, ...}``, or a bare state dict.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{source}: expected a dict, got {type(checkpoint).__name__}")
    for key in ("embedding_model", "model"):
        if key in checkpoint:
            checkpoint = checkpoint[key]
            if not isinstance(checkpoint, Mapping):
                raise CheckpointError(f"{source}: '{key}' is a {type(checkpoint).__name__}, not a state dict")
            break
    bad = [k for k, v in checkpoint.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: not a state dict (entries that are not named tensors: "
                              f"{', '.join(map(str, bad[:10]))}); expected {{'embedding_model': state_dict}}, "
                              f"{{'model': state_dict}} or a bare state dict")
    return dict(checkpoint)


def as_ours(checkpoint: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model state dict of a loaded checkpoint in either format, with our names."""
    state_dict = strip_module_prefix(extract_state_dict(checkpoint, source=source))
    return from_original(state_dict, source=source) if is_original(state_dict) else state_dict


__all__ = ["RULES", "as_ours", "extract_state_dict", "from_original", "is_original", "strip_module_prefix",
           "to_original"]
