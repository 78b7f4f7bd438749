"""The embedding head that turns res5 features into the C-dimensional pixel embedding.

The original calls it a "Feature Pyramid Network" but it is a two-layer 1x1 MLP:
``conv1x1 Cin->Cin (no bias) -> BN -> ReLU -> conv1x1 Cin->C (bias)``, with PyTorch's default init. Its
output is not normalised; every consumer L2-normalises it. The Sequential indices (0, 1, 3) are the
original's ``conv_out`` indices, so the checkpoint converter only renames the prefix.
"""

from __future__ import annotations

from torch import nn


def embedding_head(in_channels: int, embedding_dim: int) -> nn.Sequential:
    """``[N, in_channels, h, w]`` -> raw embeddings ``[N, embedding_dim, h, w]``."""
    if in_channels < 1 or embedding_dim < 1:
        raise ValueError(f"embedding head needs positive channel counts, got {in_channels} -> {embedding_dim} "
                         "(network.embedding_dim)")
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, embedding_dim, kernel_size=1, bias=True),
    )


__all__ = ["embedding_head"]
