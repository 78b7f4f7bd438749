"""Where a pixel is: location features for k-means, and the transformer's learned position/query tables.

* :func:`location_features` (defined in :mod:`hsg.clustering.kmeans`) has no parameters: normalised (y, x) in [-0.5, 0.5], appended
  to the L2-normalised embeddings so k-means clusters are spatially coherent.
* :class:`PositionEmbedding` is DETR's learned absolute embedding: one table for columns, one for
  rows, each ``C/2`` wide and initialised U(0, 1). Segment nodes get the mean position vector of their
  pixels, so the transformer knows roughly where each segment is.
* :class:`QueryEmbedding` is the table of Q learned query vectors, N(0, 1). The queries are only
  ever used as the decoder's ``query_pos``.
"""

from __future__ import annotations

import torch
from torch import nn

from hsg.clustering.kmeans import location_features  # re-exported: defined where k-means uses it


class PositionEmbedding(nn.Module):
    """Learned row/column embedding: ``pos[:, :C/2, y, x] = col[x]``, ``pos[:, C/2:, y, x] = row[y]``.

    Args:
        dim: C, the transformer width (must be even).
        max_position: rows of each table, i.e. the largest feature-map side accepted
            (``network.max_position``; 50 in the original, 800 px at output stride 16).

    Parameters: ``row.weight`` and ``col.weight``, each ``[max_position, C/2]``.
    """

    def __init__(self, dim: int, max_position: int = 50) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"position embedding width must be even and positive (network.embedding_dim), "
                             f"got {dim}")
        if max_position < 1:
            raise ValueError(f"network.max_position must be positive, got {max_position}")
        self.max_position = max_position
        self.row = nn.Embedding(max_position, dim // 2)
        self.col = nn.Embedding(max_position, dim // 2)
        nn.init.uniform_(self.row.weight)
        nn.init.uniform_(self.col.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Position embedding ``[N, C, h, w]`` for a feature map ``[N, *, h, w]`` (only its size is used).

        The result is expanded over the batch (a view); copy it before writing into it.
        """
        n, (h, w) = features.shape[0], features.shape[-2:]
        if h > self.max_position or w > self.max_position:
            raise ValueError(f"feature map of size {h}x{w} exceeds the position-embedding table "
                             f"(network.max_position = {self.max_position}); raise network.max_position or "
                             f"use smaller inputs")
        cols = self.col.weight[:w]  # [w, C/2]
        rows = self.row.weight[:h]  # [h, C/2]
        half = cols.shape[1]
        pos = torch.cat([cols.unsqueeze(0).expand(h, w, half), rows.unsqueeze(1).expand(h, w, half)], dim=-1)
        return pos.permute(2, 0, 1).unsqueeze(0).expand(n, -1, -1, -1)


class QueryEmbedding(nn.Module):
    """Q learned query vectors ``[Q, C]`` (parameter ``weight``), initialised N(0, 1)."""

    def __init__(self, num_queries: int, dim: int) -> None:
        super().__init__()
        if num_queries < 1 or dim < 1:
            raise ValueError(f"query embedding needs positive sizes, got {num_queries} queries of width {dim}")
        self.weight = nn.Parameter(torch.empty(num_queries, dim))
        nn.init.normal_(self.weight)

    def forward(self) -> torch.Tensor:
        """The raw ``[Q, C]`` table."""
        return self.weight


__all__ = ["location_features", "PositionEmbedding", "QueryEmbedding"]
