"""The HSG model: backbone + embedding head, in-image clustering, and (stage 2) the clustering transformers.

Data flow of a training forward (one process, ``N = 2B`` interleaved views):

1. ``embed``: ResNet (output stride 16) -> 1x1 head -> raw embeddings ``[N, C, h, w]``.
2. ``segment``: over-segmentation resized to ``h x w``; spherical k-means on (embedding, location) per
   view, intersected with the regions -> segments; segment prototypes (L2-normalised sums).
3. ``group`` (stage 2): the segments of both views of each image form one node sequence; the fine
   transformer groups nodes into 8, the coarse transformer groups the 8 into 4, composed back onto the
   nodes (``P2 = P(coarse|fine) @ P1``).

The losses (``hsg.losses.hsg_loss``) read the returned dict. Inference uses the same ``embed`` with the
backbone switched to output stride 8 (``set_output_stride``), on the same weights.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from hsg.clustering.kmeans import kmeans_segments, legacy_nearest_resize, segment_prototypes, segment_sums
from hsg.clustering.segments import build_node_sets, hierarchical_grouping
from hsg.engine.distributed import all_reduce_max, is_distributed
from hsg.models.head import embedding_head
from hsg.models.position import PositionEmbedding, QueryEmbedding
from hsg.models.resnet import ResNet
from hsg.models.transformer import TransformerClustering


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

    def segment(self, embedding: torch.Tensor, region: torch.Tensor, grid: list[int] | None = None,
                iterations: int | None = None) -> dict[str, torch.Tensor]:
        """k-means segments of every view (see :func:`hsg.clustering.kmeans.kmeans_segments`) and their
        prototypes. ``region`` is at any resolution; it is resized to the embedding's (legacy nearest)."""
        h, w = embedding.shape[-2:]
        if region.shape[-2:] != (h, w):
            region = legacy_nearest_resize(region, (h, w))
        out = kmeans_segments(embedding, region, grid or self.kmeans_grid,
                              self.kmeans_iterations if iterations is None else iterations)
        num_segments = out["segment_view"].numel()
        out["segment_prototype"] = segment_prototypes(out["pixel_embedding"], out["pixel_segment"], num_segments)
        return out

    def group(self, embedding: torch.Tensor, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fine and coarse groups of every image's segments (both views jointly); adds the node sets,
        assignments, centroids and each segment's and pixel's group labels to ``out``."""
        n, c, h, w = embedding.shape
        num_images = n // 2
        pos = self.position(embedding).permute(0, 2, 3, 1).reshape(n * h * w, c)[out["pixel_index"]]
        num_segments = out["segment_view"].numel()
        counts = torch.bincount(out["pixel_segment"], minlength=num_segments).clamp_min(1)
        segment_position = segment_sums(pos, out["pixel_segment"], num_segments) / counts[:, None]
        padding = self.node_padding
        if padding == 0 and is_distributed():
            # Pad to the longest sequence of the global batch, so that the padded tokens that enter the
            # transformers' BatchNorm statistics do not depend on how the batch is split over processes.
            longest = int(torch.bincount(out["segment_view"] // 2, minlength=num_images).max().item())
            padding = all_reduce_max(longest, embedding.device)
        nodes = build_node_sets(out["segment_view"], out["segment_prototype"], segment_position,
                                num_images, padding)
        hier = hierarchical_grouping(nodes, self.fine_transformer, self.fine_queries(),
                                     self.coarse_transformer, self.coarse_queries())
        seg_fine = hier.fine_label[nodes.segment_image, nodes.segment_node]
        seg_coarse = hier.coarse_label[nodes.segment_image, nodes.segment_node]
        out.update({
            "node_prototype": nodes.prototype, "node_position": nodes.position,
            "node_padding_mask": nodes.padding_mask, "node_view": nodes.view,
            "segment_node": nodes.segment_node,
            "fine_prob": hier.fine_prob, "coarse_prob": hier.coarse_prob,
            "fine_centroid": hier.fine_centroid, "coarse_centroid": hier.coarse_centroid,
            "segment_fine": seg_fine, "segment_coarse": seg_coarse,
            "pixel_fine": seg_fine[out["pixel_segment"]], "pixel_coarse": seg_coarse[out["pixel_segment"]],
        })
        return out

    # ------------------------------------------------------------------------------------------ training
    def forward(self, images: torch.Tensor, region: torch.Tensor, amp: bool = False) -> dict[str, torch.Tensor]:
        """The training forward: embeddings, segments and (stage 2) groups of a batch of paired views.

        Args:
            images: ``[N, 3, H, W]`` with views interleaved (image i = views 2i, 2i+1).
            region: ``[N, H, W]`` int64 over-segmentation ids, ``-1`` on padding.
            amp: run the backbone and head under bfloat16 autocast (clustering and losses stay float32).
        """
        if images.shape[0] % 2:
            raise ValueError(f"training batches hold pairs of views; got {images.shape[0]} views")
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
            embedding = self.embed(images)
        if embedding.dtype in (torch.float16, torch.bfloat16):
            embedding = embedding.float()  # clustering, transformers and losses run in full precision
        out = self.segment(embedding, region)
        out["embedding"] = embedding
        if self.hierarchy:
            self.group(embedding, out)
        return out


def build_model(cfg) -> HSGModel:
    """The model described by ``cfg.network`` (and the group counts of ``cfg.train``)."""
    return HSGModel(cfg.network, cfg.train)
