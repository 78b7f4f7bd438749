"""The hierarchy of segments: per-image node sets and the fine/coarse grouping by the transformers.

At stage 2 the segments of *both* views of an image form one sequence of nodes for the clustering
transformers, so the two views are grouped jointly and a group names the same image parts in both.
Segments come out of :func:`hsg.clustering.kmeans.kmeans_segments` ordered by view, so the nodes of
image ``i`` (views ``2i`` and ``2i+1``) are a contiguous run of segment ids: view ``2i``'s first.
Everything here is vectorised over images with scatter/gather; there is no loop per image or segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

# (src [B,C,L], mask [B,L] | None, queries [Q,C], pos [B,C,L]) -> an object with ``centroids`` [B,C,Q],
# ``centroid_feats`` [B,C,Q] and ``logits`` [B,Q,L] (hsg.models.transformer.ClusteringOutput).
Transformer = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor], Any]


@dataclass
class NodeSets:
    """The padded per-image node sequences that the transformers read."""

    prototype: torch.Tensor  # [B, C, N] L2-normalised segment prototypes, 0 on padding
    position: torch.Tensor  # [B, C, N] mean position embedding of each segment, 0 on padding
    padding_mask: torch.Tensor  # [B, N] True on padded slots
    view: torch.Tensor  # [B, N] view index of each node, -1 on padding
    segment_image: torch.Tensor  # [S] image (pair) index of every segment
    segment_node: torch.Tensor  # [S] node slot of every segment within its image


def build_node_sets(segment_view: torch.Tensor, segment_prototype: torch.Tensor,
                    segment_position: torch.Tensor, num_images: int, padding: int) -> NodeSets:
    """Scatter segments into ``[num_images, C, N]`` sequences.

    Args:
        segment_view: ``[S]`` local view index of each segment (sorted ascending).
        segment_prototype: ``[S, C]``; segment_position: ``[S, C]``.
        num_images: images on this process (views / 2).
        padding: pad every sequence to this length (the original COCO model used 256); 0 pads to the
            longest sequence. A sequence longer than ``padding`` extends the padding instead of failing.
    """
    s, c = segment_prototype.shape
    image = torch.div(segment_view, 2, rounding_mode="floor")
    counts = torch.bincount(image, minlength=num_images)
    starts = torch.cumsum(counts, 0) - counts
    node = torch.arange(s, device=image.device) - starts[image]
    n = max(int(padding), int(counts.max().item()) if s else 1)

    def scatter(values: torch.Tensor) -> torch.Tensor:
        out = values.new_zeros(num_images, n, c)
        out = out.index_put((image, node), values)
        return out.transpose(1, 2)

    mask = torch.ones(num_images, n, dtype=torch.bool, device=image.device)
    mask[image, node] = False
    view = torch.full((num_images, n), -1, dtype=torch.long, device=image.device)
    view[image, node] = segment_view
    return NodeSets(scatter(segment_prototype), scatter(segment_position), mask, view, image, node)


@dataclass
class Level:
    """One level of groups (fine or coarse) of every image's nodes."""

    prob: torch.Tensor  # [B, K, N] soft assignment of every node to the K groups
    label: torch.Tensor  # [B, N] argmax of prob
    centroid: torch.Tensor  # [B, C, K] the transformer's group centroids
    segment_label: torch.Tensor  # [S] the group of every segment (its node's label)


@dataclass
class Hierarchy:
    """The node sets and both levels of groups; ``coarse.prob = P(coarse | fine) @ fine.prob``."""

    nodes: NodeSets
    fine: Level
    coarse: Level


def group_means(values: torch.Tensor, labels: torch.Tensor, padding_mask: torch.Tensor, num_groups: int
                ) -> torch.Tensor:
    """Mean of ``values [B, C, N]`` over the valid nodes of each group of ``labels [B, N]`` -> ``[B, C, K]``.

    Empty groups get zeros.
    """
    b, c, n = values.shape
    onehot = torch.nn.functional.one_hot(labels, num_groups).to(values.dtype)  # [B, N, K]
    onehot = onehot * (~padding_mask)[..., None].to(values.dtype)
    sums = torch.bmm(values, onehot)  # [B, C, K]
    counts = onehot.sum(dim=1)  # [B, K]
    return sums / counts.clamp_min(1)[:, None, :]


def hierarchical_grouping(nodes: NodeSets, fine_transformer: Transformer, fine_queries: torch.Tensor,
                          coarse_transformer: Transformer, coarse_queries: torch.Tensor) -> Hierarchy:
    """Fine groups from the nodes, coarse groups from the fine groups, composed back onto the nodes.

    The coarse transformer reads the fine groups' features (``centroid_feats``) with the mean position of
    their nodes and no mask; ``P2 = softmax(coarse logits) @ P1`` gives each node a distribution over the
    coarse groups through its fine groups.
    """
    fine = fine_transformer(nodes.prototype, nodes.padding_mask, fine_queries, nodes.position)
    p1 = torch.softmax(fine.logits, dim=1)
    label1 = p1.argmax(dim=1)
    fine_position = group_means(nodes.position, label1, nodes.padding_mask, p1.shape[1])
    coarse = coarse_transformer(fine.centroid_feats, None, coarse_queries, fine_position)
    p2 = torch.bmm(torch.softmax(coarse.logits, dim=1), p1)
    label2 = p2.argmax(dim=1)

    def level(prob: torch.Tensor, label: torch.Tensor, centroid: torch.Tensor) -> Level:
        return Level(prob, label, centroid, label[nodes.segment_image, nodes.segment_node])

    return Hierarchy(nodes, level(p1, label1, fine.centroids), level(p2, label2, coarse.centroids))


__all__ = ["Hierarchy", "Level", "NodeSets", "build_node_sets", "group_means", "hierarchical_grouping"]
