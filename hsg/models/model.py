"""The HSG model: backbone + embedding head, in-image clustering, and (stage 2) the clustering transformers.

Data flow of a training forward (one process, ``N = 2B`` interleaved views), returned as a
:class:`ModelOutput`:

1. ``embed``: ResNet (output stride 16) -> 1x1 head -> raw embeddings ``[N, C, h, w]``.
2. ``segment``: the over-segmentation resized to ``h x w``; spherical k-means on (embedding, location) per
   view, intersected with the regions -> :class:`hsg.clustering.kmeans.Segments` with their prototypes.
3. ``group`` (stage 2): the segments of both views of each image form one node sequence; the fine
   transformer groups nodes into 8, the coarse transformer groups the 8 into 4, composed back onto the
   nodes (``P2 = P(coarse|fine) @ P1``) -> :class:`hsg.clustering.grouping.Hierarchy`.

The losses (``hsg.losses.hsg_loss``), the TensorBoard pictures and the hierarchy read-out read these
typed outputs. Inference uses the same ``embed`` with the backbone switched to output stride 8
(``set_output_stride``), on the same weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from hsg.clustering.grouping import Hierarchy, build_node_sets, hierarchical_grouping
from hsg.clustering.kmeans import Segments, kmeans_segments, legacy_nearest_resize, segment_sums
from hsg.models.head import embedding_head
from hsg.models.position import PositionEmbedding, QueryEmbedding
from hsg.models.resnet import ResNet
from hsg.models.transformer import TransformerClustering

# The modules that exist only in the stage-2 model. A stage-1 checkpoint lacks them, they train with
# their own learning-rate multiplier, and inference does not need them.
HIERARCHY_MODULES = ("position", "fine_queries", "coarse_queries", "fine_transformer", "coarse_transformer")


@dataclass
class ModelOutput:
    """What a training forward computes: the raw embedding, its segments and (stage 2) their groups."""

    embedding: torch.Tensor  # [N, C, h, w] raw (not normalised)
    segments: Segments
    hierarchy: Hierarchy | None  # None for the stage-1 model


def _same_everywhere(value: int) -> int:
    return value


class HSGModel(nn.Module):
    """Backbone, head and (if ``network.hierarchy``) position embedding, queries and two transformers.

    Args:
        net: the ``network`` config section.
        train: the ``train`` section (numbers of fine/coarse groups).
    """

    def __init__(self, net, train) -> None:
        super().__init__()
        dim = net.embedding_dim
        self.backbone = ResNet(net.backbone_depth, net.backbone_width, net.output_stride)
        self.head = embedding_head(self.backbone.out_channels, dim)
        self.kmeans_grid = list(net.kmeans_num_clusters)
        self.kmeans_iterations = int(net.kmeans_iterations)
        self.node_padding = int(net.node_padding)
        self.hierarchy = bool(net.hierarchy)
        if self.hierarchy:
            def transformer() -> TransformerClustering:
                return TransformerClustering(
                    dim=dim, heads=net.transformer_heads, encoder_layers=net.transformer_encoder_layers,
                    decoder_layers=net.transformer_decoder_layers, ff_dim=2 * dim,
                    dropout=net.transformer_dropout)

            self.position = PositionEmbedding(dim, net.max_position)
            self.fine_queries = QueryEmbedding(train.fine_hrchy_clusters, dim)
            self.coarse_queries = QueryEmbedding(train.coarse_hrchy_clusters, dim)
            self.fine_transformer = transformer()
            self.coarse_transformer = transformer()

    # ------------------------------------------------------------------------------------------ pieces
    def set_output_stride(self, output_stride: int) -> None:
        """Switch the backbone between the training (16) and inference (8) builds; weights are shared."""
        self.backbone.set_output_stride(output_stride)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Raw (unnormalised) pixel embeddings ``[N, C, h, w]``."""
        return self.head(self.backbone(images))

    def segment(self, embedding: torch.Tensor, oversegmentation: torch.Tensor, grid: list[int] | None = None,
                iterations: int | None = None) -> Segments:
        """k-means segments of every view (see :func:`hsg.clustering.kmeans.kmeans_segments`).
        ``oversegmentation`` is at any resolution; it is resized to the embedding's (legacy nearest)."""
        h, w = embedding.shape[-2:]
        if oversegmentation.shape[-2:] != (h, w):
            oversegmentation = legacy_nearest_resize(oversegmentation, (h, w))
        return kmeans_segments(embedding, oversegmentation, grid or self.kmeans_grid,
                               self.kmeans_iterations if iterations is None else iterations)

    def group(self, embedding: torch.Tensor, segments: Segments,
              max_over_processes: Callable[[int], int] = _same_everywhere) -> Hierarchy:
        """Fine and coarse groups of every image's segments (both views jointly).

        ``max_over_processes`` returns the largest of a number over all training processes (the trainer
        passes the distributed reduction; alone it is the identity). With ``network.node_padding: 0`` the
        sequences are padded to the longest of the global batch, so that the padded tokens that enter the
        transformers' BatchNorm statistics do not depend on how the batch is split over processes.
        """
        n, c, h, w = embedding.shape
        num_images = n // 2
        pos = self.position(embedding).permute(0, 2, 3, 1).reshape(n * h * w, c)[segments.pixel_index]
        counts = torch.bincount(segments.pixel_segment, minlength=segments.count).clamp_min(1)
        segment_position = segment_sums(pos, segments.pixel_segment, segments.count) / counts[:, None]
        padding = self.node_padding
        if padding == 0:
            padding = max_over_processes(int(torch.bincount(segments.view // 2, minlength=num_images).max().item()))
        nodes = build_node_sets(segments.view, segments.prototype, segment_position, num_images, padding)
        return hierarchical_grouping(nodes, self.fine_transformer, self.fine_queries(),
                                     self.coarse_transformer, self.coarse_queries())

    # ------------------------------------------------------------------------------------------ training
    def forward(self, images: torch.Tensor, oversegmentation: torch.Tensor, amp: bool = False,
                max_over_processes: Callable[[int], int] = _same_everywhere) -> ModelOutput:
        """The training forward: embeddings, segments and (stage 2) groups of a batch of paired views.

        Args:
            images: ``[N, 3, H, W]`` with views interleaved (image i = views 2i, 2i+1).
            oversegmentation: ``[N, H, W]`` int64 region ids, ``-1`` on padding.
            amp: run the backbone and head under bfloat16 autocast (clustering and losses stay float32).
            max_over_processes: see :meth:`group`.
        """
        if images.shape[0] % 2:
            raise ValueError(f"training batches hold pairs of views; got {images.shape[0]} views")
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
            embedding = self.embed(images)
        if embedding.dtype in (torch.float16, torch.bfloat16):
            embedding = embedding.float()  # clustering, transformers and losses run in full precision
        segments = self.segment(embedding, oversegmentation)
        hierarchy = self.group(embedding, segments, max_over_processes) if self.hierarchy else None
        return ModelOutput(embedding, segments, hierarchy)


def build_model(cfg) -> HSGModel:
    """The model described by ``cfg.network`` (and the group counts of ``cfg.train``)."""
    return HSGModel(cfg.network, cfg.train)


__all__ = ["HIERARCHY_MODULES", "HSGModel", "ModelOutput", "build_model"]
