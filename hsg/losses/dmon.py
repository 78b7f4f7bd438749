"""DMoN modularity and collapse losses on the kNN graph of an image pair's segments.

For every image (both views together) the segments form a graph: an edge joins a segment to its ``k``
most similar segments (``exp(5 <x_i, x_j>)`` kernel), per view (``per_view``, the original COCO model) or
over both views (``joint``, the original Cityscapes model). The transformer's soft assignment ``S`` of
segments to groups is then scored by DMoN's modularity, so that groups follow the graph's communities,
plus a collapse term that keeps the groups balanced.

The constants are the original's, which differ from the DMoN paper (see docs/deviations.md): the
normaliser is ``2 * sum(d)`` in both places, the loss is ``1 - Q/Z``, and the collapse term divides by the
padded node count with no ``-1``. The graph is directed (row = source) and carries no gradient.
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def knn_graph(x: torch.Tensor, padding_mask: torch.Tensor, groups: torch.Tensor | None, knn: int,
              concentration: float = 5.0) -> torch.Tensor:
    """Binary kNN adjacency ``[B, N, N]`` of the node features ``x [B, C, N]``.

    Args:
        x: node features (the L2-normalised segment prototypes).
        padding_mask: ``[B, N]`` True for padded nodes (no edges to or from them).
        groups: ``[B, N]`` integer group of each node (its view) for the per-group kNN, or None for one
            group per graph. Each node keeps, in every group, the entries >= the k-th largest value
            among that group's valid nodes (itself included, with its zeroed self-loop); ties are kept.
        knn: neighbours per group.
        concentration: kernel concentration (5 in the original).
    """
    b, _, n = x.shape
    kernel = torch.exp(concentration * torch.bmm(x.transpose(1, 2), x))
    pad_pair = padding_mask[:, :, None] | padding_mask[:, None, :]
    kernel = kernel.masked_fill(pad_pair, 0)
    several = (~padding_mask).sum(dim=1) > 1
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    kernel = kernel.masked_fill(eye[None] & several[:, None, None], 0)

    if groups is None:
        groups = torch.zeros_like(padding_mask, dtype=torch.long)
    valid = ~padding_mask
    adjacency = kernel.clone()
    for g in torch.unique(groups[valid]).tolist():
        cols = valid & (groups == g)  # [B, N] columns in this group
        k = min(knn, n)
        candidates = kernel.masked_fill(~cols[:, None, :], float("-inf"))
        kth = candidates.topk(k, dim=2).values[..., -1:]  # [B, N, 1]; -inf when the group has < k nodes
        drop = cols[:, None, :] & (kernel < kth)
        adjacency = adjacency.masked_fill(drop, 0)
    return adjacency > 0


def dmon_losses(assignments: torch.Tensor, adjacency: torch.Tensor, padding_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-graph DMoN and collapse losses.

    Args:
        assignments: ``[B, K, N]`` soft assignments (probabilities over the K groups per node).
        adjacency: ``[B, N, N]`` binary graph from :func:`knn_graph`.
        padding_mask: ``[B, N]`` True for padded nodes (their assignments are zeroed).

    Returns:
        (``[B]`` dmon loss, ``[B]`` collapse loss).
    """
    b, k, n = assignments.shape
    s = assignments.transpose(1, 2) * (~padding_mask)[..., None]  # [B, N, K]
    a = adjacency.to(s.dtype)
    degree = a.sum(dim=2)  # out-degree [B, N]
    z = 2 * degree.sum(dim=1)  # [B]
    within = (s * torch.bmm(a, s)).sum(dim=(1, 2))  # tr(S^T A S)
    expected = (s * degree[..., None]).sum(dim=1).pow(2).sum(dim=1)  # ||S^T d||^2
    modularity = within - expected / z
    dmon = 1 - modularity / z
    collapse = s.sum(dim=1).norm(dim=1) * math.sqrt(k) / n
    return dmon, collapse
