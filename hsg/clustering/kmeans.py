"""Spherical k-means segmentation of pixel embeddings, started from a fixed grid.

HSG segments every view by clustering its L2-normalised embeddings augmented with (y, x) location
(so clusters are spatially coherent), starting from a ``ky x kx`` grid of labels, and then intersects the
clusters with the over-segmentation. This module does the clustering for all views at once: one batched
matrix product per iteration instead of a Python loop per view, which is what makes it cheap next to the
backbone on a GPU.

Conventions reproduced from the original (see docs/deviations.md for the list):
* the grid is ``round(linspace(0, ky-1, h)) + ky * round(linspace(0, kx-1, w))`` (column-major ids,
  edge cells about half the size of inner ones);
* one iteration is an M-step (prototype = L2-normalised sum of members, empty cluster = zero vector)
  followed by an E-step (argmax of the dot product, ties to the lowest id);
* ``K = ky * kx`` is counted before padding is removed, so a cluster whose grid cell is entirely padding
  simply stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def l2_normalize(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """L2 normalisation with the original's guard: a norm below 1e-12 divides by 1e-12 (zeros stay zero)."""
    return x / x.norm(dim=dim, keepdim=True).clamp_min(1e-12)


def location_features(n: int, h: int, w: int, device: torch.device | None = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[n, h, w, 2]`` location features: channel 0 = y, channel 1 = x, each ``linspace(0, 1) - 0.5``."""
    y = torch.linspace(0, 1, h, device=device, dtype=dtype) - 0.5
    x = torch.linspace(0, 1, w, device=device, dtype=dtype) - 0.5
    grid = torch.stack(torch.meshgrid(y, x, indexing="ij"), dim=-1)
    return grid.unsqueeze(0).expand(n, h, w, 2)


def grid_labels(h: int, w: int, grid: tuple[int, int] | list[int], device: torch.device | None = None
                ) -> torch.Tensor:
    """The initial ``[h, w]`` k-means labels: a ``ky x kx`` grid numbered down columns first."""
    ky, kx = int(grid[0]), int(grid[1])
    rows = torch.round(torch.linspace(0, ky - 1, h, device=device)).long()
    cols = torch.round(torch.linspace(0, kx - 1, w, device=device)).long()
    labels = rows[:, None] + ky * cols[None, :]
    # The original relabels with unique(); when h < ky (or w < kx) some grid ids are unused.
    _, dense = torch.unique(labels, return_inverse=True)
    return dense


def spherical_kmeans(features: torch.Tensor, valid: torch.Tensor, init_labels: torch.Tensor,
                     num_clusters: int, iterations: int) -> torch.Tensor:
    """Batched spherical k-means.

    Args:
        features: ``[N, M, D]`` L2-normalised vectors (M points per view).
        valid: ``[N, M]`` bool, points that take part (padding is excluded everywhere).
        init_labels: ``[N, M]`` or ``[M]`` initial labels in ``[0, num_clusters)``.
        num_clusters: K, the number of prototype slots per view.
        iterations: number of (M-step, E-step) rounds; 0 returns the initial labels.

    Returns:
        ``[N, M]`` int64 labels after the last E-step (invalid points keep their initial label).
    """
    n, m, d = features.shape
    labels = init_labels.expand(n, m).clone() if init_labels.dim() == 1 else init_labels.clone()
    # The members' vectors, padding zeroed, are the same every iteration: made once (at inference on a
    # 512x512 canvas this product was a third of the k-means' time when it was redone per iteration).
    members = (features if bool(valid.all()) else features * valid.to(features.dtype).unsqueeze(-1)).reshape(-1, d)
    offsets = (torch.arange(n, device=features.device) * num_clusters)[:, None]
    for _ in range(iterations):
        sums = features.new_zeros(n * num_clusters, d)
        sums.index_add_(0, (labels + offsets).reshape(-1), members)
        prototypes = l2_normalize(sums).view(n, num_clusters, d)
        labels = torch.bmm(features, prototypes.transpose(1, 2)).argmax(dim=-1)
    return labels


def legacy_nearest_resize(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize integer maps ``[N, H, W]`` to ``size`` by sampling ``floor(dst * in / out)``.

    This is PyTorch's legacy ``mode='nearest'`` (the top-left pixel of each cell when the ratio is an
    integer), done with integer indexing so label ids of any size survive exactly.
    """
    h_in, w_in = labels.shape[-2:]
    h, w = size
    rows = torch.div(torch.arange(h, device=labels.device) * h_in, h, rounding_mode="floor")
    cols = torch.div(torch.arange(w, device=labels.device) * w_in, w, rounding_mode="floor")
    return labels[..., rows[:, None], cols[None, :]]


@dataclass
class Segments:
    """The segments of N views (k-means clusters intersected with the over-segmentation), over the P valid
    pixels (view-major, row-major within a view) and S segments.

    Segment ids are ordered by view, then k-means cluster, then region, as the original's.
    """

    shape: tuple[int, int, int]  # (N, h, w) of the embedding grid
    pixel_index: torch.Tensor  # [P] flat index of each valid pixel into N*h*w
    pixel_embedding: torch.Tensor  # [P, C] L2-normalised embedding (no location)
    pixel_segment: torch.Tensor  # [P] segment id 0..S-1
    view: torch.Tensor  # [S] view of each segment
    region: torch.Tensor  # [S] over-segmentation region id of each segment (0 without one)
    prototype: torch.Tensor  # [S, C] L2-normalised sum of the segment's pixel embeddings

    @property
    def count(self) -> int:
        return int(self.view.numel())

    def pixel_map(self, values: torch.Tensor) -> torch.Tensor:
        """Per-pixel ``values [P]`` laid out as ``[N, h, w]`` maps, -1 where a pixel is not valid."""
        n, h, w = self.shape
        grid = torch.full((n * h * w,), -1, dtype=values.dtype, device=values.device)
        grid[self.pixel_index] = values
        return grid.view(n, h, w)


def embedding_with_location(embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L2norm(e) [N, h, w, C], L2norm(concat(L2norm(e), y, x)) [N, h*w, C+2])`` of raw embeddings
    ``[N, C, h, w]``: the pixel embedding, and the vector k-means clusters (location keeps clusters
    spatially coherent; it never enters the embedding itself)."""
    n, c, h, w = embeddings.shape
    if embeddings.dtype not in (torch.float32, torch.float64):
        embeddings = embeddings.float()  # half-precision activations from autocast
    emb = l2_normalize(embeddings.permute(0, 2, 3, 1))
    loc = location_features(n, h, w, device=emb.device, dtype=emb.dtype)
    return emb, l2_normalize(torch.cat([emb, loc], dim=-1)).reshape(n, h * w, c + 2)


def kmeans_segments(embeddings: torch.Tensor, oversegmentation: torch.Tensor, grid: tuple[int, int] | list[int],
                    iterations: int) -> Segments:
    """Segment every view by k-means on (embedding, location), intersected with its over-segmentation.

    Args:
        embeddings: ``[N, C, h, w]`` raw (unnormalised) embeddings.
        oversegmentation: ``[N, h, w]`` int64 region ids at embedding resolution, ``-1`` = padding (ignored
            everywhere). At inference pass zeros (and -1 on padding): segments = clusters.
        grid: k-means initial grid ``[ky, kx]``.
        iterations: k-means iterations.
    """
    n, c, h, w = embeddings.shape
    emb, emb_loc = embedding_with_location(embeddings)
    valid = (oversegmentation >= 0).reshape(n, h * w)
    init = grid_labels(h, w, grid, device=emb.device).reshape(-1)
    num_clusters = int(grid[0]) * int(grid[1])
    with torch.no_grad():
        labels = spherical_kmeans(emb_loc.detach(), valid, init, num_clusters, iterations)

    pixel_index = valid.reshape(-1).nonzero(as_tuple=True)[0]
    pixel_view = torch.div(pixel_index, h * w, rounding_mode="floor")
    pixel_cluster = labels.reshape(-1)[pixel_index]
    pixel_region = oversegmentation.reshape(-1)[pixel_index]

    # Rank (view, cluster, region) triples: explicit mixed-radix keys sized from the data, so no id can
    # alias whatever the number of regions (the original packed with a fixed divisor of 2048).
    num_regions = int(pixel_region.max().item()) + 1 if pixel_region.numel() else 1
    key = (pixel_view * num_clusters + pixel_cluster) * num_regions + pixel_region
    unique_keys, pixel_segment = torch.unique(key, return_inverse=True)
    pixel_embedding = emb.reshape(n * h * w, c)[pixel_index]
    return Segments(
        shape=(n, h, w), pixel_index=pixel_index, pixel_embedding=pixel_embedding, pixel_segment=pixel_segment,
        view=torch.div(unique_keys, num_regions * num_clusters, rounding_mode="floor"),
        region=unique_keys % num_regions,
        prototype=segment_prototypes(pixel_embedding, pixel_segment, unique_keys.numel()))


def segment_sums(values: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Sum ``values [P, D]`` into ``[num_segments, D]`` bins (differentiable)."""
    out = values.new_zeros(num_segments, values.shape[1])
    return out.index_add(0, segment, values)


def segment_prototypes(pixel_embedding: torch.Tensor, pixel_segment: torch.Tensor, num_segments: int
                       ) -> torch.Tensor:
    """Segment prototypes: the L2-normalised sum of their pixels' normalised embeddings."""
    return l2_normalize(segment_sums(pixel_embedding, pixel_segment, num_segments))


__all__ = [
    "Segments", "embedding_with_location", "grid_labels", "kmeans_segments", "l2_normalize", "legacy_nearest_resize",
    "location_features", "segment_prototypes", "segment_sums", "spherical_kmeans",
]
