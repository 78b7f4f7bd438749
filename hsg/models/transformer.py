"""The clustering transformer: a DETR encoder/decoder that groups segment nodes into Q clusters.

HSG groups the segments of an image (fine level, Q = 8) and then the fine groups (coarse level, Q = 4)
with a small DETR-style transformer whose decoder queries become cluster centroids. This module follows
the original where it departs from DETR, because those departures change what the
network computes and therefore what a released checkpoint means:

* **BatchNorm instead of LayerNorm**, post-norm. Each norm is a ``BatchNorm1d`` over all ``L x B`` tokens
  of the batch (applied to a ``[B, C, L]`` view, as the original: far more accurate in float32 than a
  ``[L*B, C]`` view at C = 128), padded tokens included (the original COCO model pads every node sequence to 256, so
  padding takes part in the statistics).
* **Decoder initial target** from per-image statistics of the encoder memory instead of zeros:
  ``target([mu, sigma])`` with ``target = Linear(2C -> ff, no bias) -> BN -> ReLU -> Linear(ff -> C)``,
  repeated for every query (queries differ only through their ``query_pos``). With a padding mask,
  ``mu`` is the mean over valid tokens and ``sigma = sqrt(sum_all_L (m * valid - mu)^2 / (n_valid + 1))``
  (padded tokens contribute ``mu^2`` and the divisor is n + 1, as the original); without a mask it is
  the unbiased standard deviation.
* Two heads ``ReLU -> Linear(C, C, no bias) -> BN`` give the centroids and the centroid features;
  ``logits = <centroid, memory> / sqrt(C)``; the queries are then **sorted by their largest logit over
  all tokens** (padded ones included), descending, so cluster k is "the k-th most activated query".

Layout: sequences are kept ``[L, B, C]`` internally so that a BatchNorm over tokens is a plain
``BatchNorm1d`` on a ``[L * B, C]`` view (no transposes). The target statistics and the target MLP run
in float64 (they normalise B nearly equal rows: see ``_memory_statistics``); norms and the logits run
in float32 even under bf16/fp16 autocast, and so does the attention (torch 2.1's MultiheadAttention
fails under autocast with a padding mask: the mask takes the input's dtype, the projected queries the
autocast dtype); the feed-forward linear layers use the autocast dtype. The attention runs over at most a
few hundred segment tokens, so float32 there costs nothing that matters.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class ClusteringOutput(NamedTuple):
    """What :class:`TransformerClustering` returns (all in sorted-query order except ``memory``)."""

    centroids: torch.Tensor       # [B, C, Q] centroid head output
    centroid_feats: torch.Tensor  # [B, C, Q] centroid-feature head output (the coarse level's input)
    logits: torch.Tensor          # [B, Q, L] <centroid, memory> / sqrt(C)
    memory: torch.Tensor          # [B, C, L] encoder output (non-zero at padded tokens too)
    order: torch.Tensor           # [B, Q] int64: the original query placed at sorted position k


def _float32(x: torch.Tensor) -> torch.Tensor:
    """Upcast half-precision activations (autocast) so BatchNorm statistics are taken in float32."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _token_norm(norm: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over every token of a ``[L, B, C]`` sequence batch, per channel.

    The norm reads a ``[B, C, L]`` view (a 3-D BatchNorm1d input, as the original's), not a flattened
    ``[L * B, C]`` matrix: on the CPU the 2-D kernel accumulates the statistics of 512 tokens about 100x
    less accurately in float32 (3.5e-5 against 4e-7 relative), which the decoder's nearly constant tokens
    then amplify enough to flip coarse groups (pinned by ``hsg_grouping_resnet50_c128.pt``).
    """
    return norm(_float32(x).permute(1, 2, 0)).permute(2, 0, 1)


def _run(sequential: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Run a small MLP, feeding its BatchNorm float32 input (``_BatchNorm`` also covers SyncBatchNorm)."""
    for layer in sequential:
        x = layer(_float32(x) if isinstance(layer, _BatchNorm) else x)
    return x


def _run_float64(sequential: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Run a small MLP in float64 on float64 copies of its parameters and buffers; a float64 result.

    The copies are differentiable, so gradients reach the float32 parameters; the BatchNorm's running
    statistics, updated in the copies, are written back. Autocast leaves float64 alone, and is off anyway.
    """
    tensors = {name: t.double() if t.is_floating_point() else t
               for name, t in [*sequential.named_parameters(), *sequential.named_buffers()]}
    with torch.autocast(device_type=x.device.type, enabled=False):
        out = torch.func.functional_call(sequential, tensors, (x.double(),))
    with torch.no_grad():
        for name, buffer in sequential.named_buffers():
            if buffer.is_floating_point() and tensors[name] is not buffer:
                buffer.copy_(tensors[name])
    return out


def _with_pos(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


def _attend(attn: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-head attention in float32 with autocast off (see the module docstring for why)."""
    with torch.autocast(device_type=query.device.type, enabled=False):
        return attn(_float32(query), _float32(key), _float32(value), key_padding_mask=mask,
                    need_weights=False)[0]


class EncoderLayer(nn.Module):
    """Post-norm encoder layer: ``x = BN(x + MHA(x+pos, x+pos, x))``; ``x = BN(x + FFN(x))``."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.ffn1 = nn.Linear(dim, ff_dim)
        self.ffn2 = nn.Linear(ff_dim, dim)
        self.norm1 = nn.BatchNorm1d(dim)
        self.norm2 = nn.BatchNorm1d(dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        qk = _with_pos(x, pos)
        attended = _attend(self.attn, qk, qk, x, mask)
        x = _token_norm(self.norm1, x + F.dropout(attended, self.dropout, self.training))
        hidden = F.dropout(F.relu(self.ffn1(x)), self.dropout, self.training)
        return _token_norm(self.norm2, x + F.dropout(self.ffn2(hidden), self.dropout, self.training))


class DecoderLayer(nn.Module):
    """Post-norm decoder layer: self-attention, cross-attention to the memory, FFN; BN after each."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout)
        self.ffn1 = nn.Linear(dim, ff_dim)
        self.ffn2 = nn.Linear(ff_dim, dim)
        self.norm1 = nn.BatchNorm1d(dim)
        self.norm2 = nn.BatchNorm1d(dim)
        self.norm3 = nn.BatchNorm1d(dim)
        self.dropout = dropout

    def forward(self, t: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor | None,
                query_pos: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        q = t + query_pos
        attended = _attend(self.self_attn, q, q, t)
        t = _token_norm(self.norm1, t + F.dropout(attended, self.dropout, self.training))
        attended = _attend(self.cross_attn, t + query_pos, _with_pos(memory, pos), memory, mask)
        t = _token_norm(self.norm2, t + F.dropout(attended, self.dropout, self.training))
        hidden = F.dropout(F.relu(self.ffn1(t)), self.dropout, self.training)
        return _token_norm(self.norm3, t + F.dropout(self.ffn2(hidden), self.dropout, self.training))


def _projection_head(dim: int) -> nn.Sequential:
    """``ReLU -> Linear(C, C, no bias) -> BN`` (PyTorch default Linear init, as the original)."""
    return nn.Sequential(nn.ReLU(), nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim))


class TransformerClustering(nn.Module):
    """Cluster a batch of token sequences into Q groups; see the module docstring for the function.

    Args:
        dim: C, the token width (``network.embedding_dim``, 128 in the original).
        heads: attention heads (``network.transformer_heads``, 4).
        encoder_layers, decoder_layers: layer counts (2 and 2).
        ff_dim: feed-forward width, also the target MLP's hidden width; ``None`` means ``2 * dim``.
        dropout: on attention weights and residual branches (``network.transformer_dropout``, 0.1).

    Parameter names: ``encoder_layers.{i}.{attn,ffn1,ffn2,norm1,norm2}``,
    ``decoder_layers.{i}.{self_attn,cross_attn,ffn1,ffn2,norm1,norm2,norm3}``, ``decoder_norm``,
    ``target.{0,1,3}``, ``centroid_head.{1,2}``, ``feature_head.{1,2}``.
    """

    def __init__(self, dim: int, heads: int = 4, encoder_layers: int = 2, decoder_layers: int = 2,
                 ff_dim: int | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f"transformer width {dim} (network.embedding_dim) must be a positive multiple of "
                             f"the number of heads {heads} (network.transformer_heads)")
        if encoder_layers < 1 or decoder_layers < 1:
            raise ValueError(f"network.transformer_encoder_layers/decoder_layers must be >= 1, got "
                             f"{encoder_layers}/{decoder_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"network.transformer_dropout must be in [0, 1), got {dropout}")
        ff_dim = 2 * dim if ff_dim is None else ff_dim
        self.dim = dim
        self.encoder_layers = nn.ModuleList(EncoderLayer(dim, heads, ff_dim, dropout)
                                            for _ in range(encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(dim, heads, ff_dim, dropout)
                                            for _ in range(decoder_layers))
        self.decoder_norm = nn.BatchNorm1d(dim)
        self.target = nn.Sequential(nn.Linear(2 * dim, ff_dim, bias=False), nn.BatchNorm1d(ff_dim),
                                    nn.ReLU(), nn.Linear(ff_dim, dim))
        # The original applies xavier to every matrix of the transformer proper (not to the two heads).
        for module in (self.encoder_layers, self.decoder_layers, self.target):
            for p in module.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
        self.centroid_head = _projection_head(dim)
        self.feature_head = _projection_head(dim)

    def _check_inputs(self, src: torch.Tensor, mask: torch.Tensor | None, queries: torch.Tensor,
                      pos: torch.Tensor | None) -> None:
        if src.dim() != 3 or src.shape[1] != self.dim:
            raise ValueError(f"src must be [B, {self.dim}, L], got {list(src.shape)}")
        b, _, length = src.shape
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (b, length)):
            raise ValueError(f"mask must be a bool [B, L] = [{b}, {length}] tensor (True = padding), got "
                             f"{mask.dtype} {list(mask.shape)}")
        if pos is not None and pos.shape != src.shape:
            raise ValueError(f"pos must have the shape of src {list(src.shape)}, got {list(pos.shape)}")
        if self.training and b < 2:
            raise ValueError("the clustering transformer needs at least 2 sequences (images) per batch in training "
                             "mode: its target MLP and heads batch-normalise over the per-image rows, as the "
                             "original does")
        if not ((queries.dim() == 2 and queries.shape[1] == self.dim)
                or (queries.dim() == 3 and queries.shape[:2] == (b, self.dim))):
            raise ValueError(f"queries must be [Q, {self.dim}] or [B, {self.dim}, Q], got {list(queries.shape)}")

    @staticmethod
    def _memory_statistics(memory: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``[B, 2C]`` = per-image ``[mean, std]`` of the ``[L, B, C]`` memory (original formula).

        Computed and returned in float64, for the target MLP to run in float64 too. That MLP batch-normalises
        these B rows, which are nearly equal (their spread is ~1/1000 of their size), so it amplifies any
        rounding of its input or its own arithmetic a few hundredfold: with the statistics summed in
        float32, the fine grouping sat 3e-4 and the coarse 1e-3 from the exact result; with the statistics
        in float64 but the MLP in float32, 3.9e-4 and 1.0e-3 on an AVX2-only AMD EPYC (2e-4 on an Intel
        Xeon); with both in float64, 2.8e-5 and 5.8e-5 there, below the original's own float32 error
        (7.5e-5, 1.9e-4). Tensors of ``L x B x C`` values and a ``[B, 2C]`` MLP: no measurable cost.
        """
        memory = memory.double()
        if mask is None:
            mean = memory.mean(dim=0)
            var = (memory - mean).pow(2).sum(dim=0) / max(memory.shape[0] - 1, 1)
        else:
            valid = (~mask).t().unsqueeze(-1).to(memory.dtype)  # [L, B, 1]
            count = valid.sum(dim=0).clamp_min(1)
            masked = memory * valid
            mean = masked.sum(dim=0) / count
            var = (masked - mean).pow(2).sum(dim=0) / (count + 1)
        # The clamp only keeps the gradient finite when a sequence has no spread at all.
        return torch.cat([mean, var.clamp_min(1e-12).sqrt()], dim=-1)

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None, queries: torch.Tensor,
                pos: torch.Tensor | None) -> ClusteringOutput:
        """Group the tokens.

        Args:
            src: ``[B, C, L]`` token features (L2-normalised node prototypes at the fine level).
            mask: ``[B, L]`` bool, True = padded token, or ``None`` (no padding).
            queries: ``[Q, C]`` query table (or ``[B, C, Q]`` per-sample queries), used as ``query_pos``.
            pos: ``[B, C, L]`` position embedding of the tokens, or ``None``.

        Returns:
            :class:`ClusteringOutput` (a NamedTuple: centroids, centroid_feats, logits, memory, order).
        """
        self._check_inputs(src, mask, queries, pos)
        b, c, length = src.shape
        x = src.permute(2, 0, 1)  # [L, B, C]
        pos_t = None if pos is None else pos.permute(2, 0, 1)
        query_pos = (queries.unsqueeze(1).expand(-1, b, -1) if queries.dim() == 2
                     else queries.permute(2, 0, 1))  # [Q, B, C]
        num_queries = query_pos.shape[0]

        for layer in self.encoder_layers:
            x = layer(x, pos_t, mask)
        memory = _float32(x)

        target = _run_float64(self.target, self._memory_statistics(memory, mask)).to(memory.dtype)  # [B, C]
        t = target.unsqueeze(0).expand(num_queries, -1, -1)
        for layer in self.decoder_layers:
            t = layer(t, memory, pos_t, query_pos, mask)
        decoded = _token_norm(self.decoder_norm, t)  # [Q, B, C]

        flat = decoded.transpose(0, 1).reshape(b * num_queries, c)
        centroids = _run(self.centroid_head, flat).view(b, num_queries, c)
        feats = _run(self.feature_head, flat).view(b, num_queries, c)
        memory_bcl = memory.permute(1, 2, 0)  # [B, C, L]

        with torch.autocast(device_type=src.device.type, enabled=False):
            logits = torch.bmm(_float32(centroids), _float32(memory_bcl)) / math.sqrt(c)  # [B, Q, L]
        order = torch.sort(logits.amax(dim=-1), dim=1, descending=True, stable=True).indices  # [B, Q]
        pick = order.unsqueeze(-1)
        centroids = centroids.gather(1, pick.expand(-1, -1, c)).transpose(1, 2)
        feats = feats.gather(1, pick.expand(-1, -1, c)).transpose(1, 2)
        logits = logits.gather(1, pick.expand(-1, -1, length))
        return ClusteringOutput(centroids, feats, logits, memory_bcl, order)


__all__ = ["TransformerClustering", "ClusteringOutput", "EncoderLayer", "DecoderLayer"]
