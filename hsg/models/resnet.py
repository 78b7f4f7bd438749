"""Dilated ResNet backbone whose output stride can be switched on the same weights.

HSG trains its backbone at output stride 16 and runs every inference step (prototypes, k-means, label
retrieval) at output stride 8, with one set of weights. Stride, dilation and padding are attributes of a
convolution, not part of its weights, so one module switches between the two builds in place with
:meth:`ResNet.set_output_stride` instead of building a second network.

The geometry follows the original:

* 7x7/2 stem (conv, BN, ReLU, 3x3/2 max-pool), bias-free convolutions, BN momentum 0.1 and eps 1e-5;
* bottlenecks for depth 50/101 in the torchvision v1.5 form (the stride sits on the 3x3 conv), basic
  blocks for depth 18/34;
* per output stride, the stage strides and dilations of :data:`STAGE_PLANS`; inside a stage the first
  block uses dilation 1 when the stage dilation is 1 or 2 and dilation 2 when it is 4, and block ``i > 0``
  uses ``stage dilation * grid[i]``, where res5 (``layer4``) has the DeepLab-v3 multi-grid ``(1, 2, 4)``
  (cut to its number of blocks) and the other stages all ones;
* output stride 32 is the plain ResNet: no dilation anywhere and no multi-grid. It is not used by the
  original; it is the cheap setting for speed experiments.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

# Output stride -> (stage strides, stage dilations) for layer1..layer4 (the original's res2..res5).
STAGE_PLANS: dict[int, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = {
    8: ((1, 2, 1, 1), (1, 1, 2, 4)),
    16: ((1, 2, 2, 1), (1, 1, 1, 2)),
    32: ((1, 2, 2, 2), (1, 1, 1, 1)),
}

# Depth -> (block kind, blocks per stage).
DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}

MULTI_GRID = (1, 2, 4)


def block_dilations(stage_dilation: int, num_blocks: int, multi_grid: bool) -> list[int]:
    """Dilation of each block of a stage, by the original's rule (see the module docstring)."""
    if stage_dilation not in (1, 2, 4):
        raise ValueError(f"stage dilation must be 1, 2 or 4, got {stage_dilation}")
    if multi_grid and num_blocks > len(MULTI_GRID):
        raise ValueError(f"multi-grid {MULTI_GRID} covers at most {len(MULTI_GRID)} blocks, got {num_blocks}")
    grids = MULTI_GRID[:num_blocks] if multi_grid else (1,) * num_blocks
    first = 2 if stage_dilation == 4 else 1
    return [first] + [stage_dilation * g for g in grids[1:]]


def _conv(cin: int, cout: int, kernel: int) -> nn.Conv2d:
    """Bias-free conv; stride/dilation/padding are set later by the geometry, never here."""
    return nn.Conv2d(cin, cout, kernel_size=kernel, padding=kernel // 2, bias=False)


def _set_geometry(conv: nn.Conv2d, stride: int, dilation: int) -> None:
    """Set a conv's stride and dilation in place; padding keeps the 'same' size for odd kernels."""
    conv.stride = (stride, stride)
    conv.dilation = (dilation, dilation)
    pad = dilation * (conv.kernel_size[0] // 2)
    conv.padding = (pad, pad)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride, dilation) -> 1x1 (x4 channels), each with BN; residual add, ReLU."""

    expansion = 4

    def __init__(self, cin: int, planes: int, downsample: bool) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv(cin, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(_conv(cin, cout, 1), nn.BatchNorm2d(cout)) if downsample else None

    def set_geometry(self, stride: int, dilation: int) -> None:
        """The stride sits on the 3x3 conv (torchvision v1.5) and on the shortcut conv."""
        _set_geometry(self.conv2, stride, dilation)
        if self.downsample is not None:
            _set_geometry(self.downsample[0], stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)  # in place, as the original (no new map)
        return self.relu(out)


class BasicBlock(nn.Module):
    """3x3 (stride, dilation) -> 3x3 (dilation), each with BN; residual add, ReLU."""

    expansion = 1

    def __init__(self, cin: int, planes: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = _conv(cin, planes, 3)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(_conv(cin, planes, 1), nn.BatchNorm2d(planes)) if downsample else None

    def set_geometry(self, stride: int, dilation: int) -> None:
        """Both 3x3 convs take the block's dilation (as in DeepLab); the first carries the stride."""
        _set_geometry(self.conv1, stride, dilation)
        _set_geometry(self.conv2, 1, dilation)
        if self.downsample is not None:
            _set_geometry(self.downsample[0], stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNet(nn.Module):
    """Dilated ResNet; ``forward`` returns the last stage (res5) feature map.

    Args:
        depth: 18, 34, 50 (the original) or 101.
        width: channels of the stem; stage widths are ``width * (1, 2, 4, 8)`` (times 4 for bottlenecks),
            so ``out_channels`` is 2048 for depth 50/101 and 512 for 18/34 at the standard width 64.
        output_stride: 8, 16 or 32 (see :data:`STAGE_PLANS`); change it later with
            :meth:`set_output_stride`.

    Parameter names: ``stem.conv``, ``stem.bn``, ``layer{1..4}.{block}.{conv,bn}{1..3}`` and
    ``layer{s}.0.downsample.{0,1}`` (the original's ``conv1.conv1``, ``conv1.bn1``, ``res{2..5}``).
    """

    def __init__(self, depth: int = 50, width: int = 64, output_stride: int = 16) -> None:
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"network.backbone_depth must be one of {sorted(DEPTHS)}, got {depth!r}")
        if width < 1:
            raise ValueError(f"network.backbone_width must be a positive integer, got {width!r}")
        kind, blocks = DEPTHS[depth]
        block = Bottleneck if kind == "bottleneck" else BasicBlock
        self.depth = depth
        self.stem = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False),
            bn=nn.BatchNorm2d(width),
            relu=nn.ReLU(inplace=True),
            pool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        ))
        cin = width
        for index, num_blocks in enumerate(blocks):
            planes = width * 2 ** index
            cout = planes * block.expansion
            # A shortcut conv wherever the first block may change the channel count or stride (every stage
            # but layer1, which never strides), so the parameters never depend on the output stride.
            layers = [block(cin, planes, downsample=cin != cout or index > 0)]
            layers += [block(cout, planes, downsample=False) for _ in range(1, num_blocks)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*layers))
            cin = cout
        self.out_channels = cin
        self.set_output_stride(output_stride)
        self._init_weights()

    def _init_weights(self) -> None:
        """He fan-out normal for convs, BN gamma 1 / beta 0, as the original (it trains from scratch)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stages(self) -> list[nn.Sequential]:
        """``layer1..layer4`` in order."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def set_output_stride(self, output_stride: int) -> None:
        """Switch every conv's stride/dilation/padding to the ``output_stride`` build, in place.

        The weights are untouched, so the training build (16) and the inference build (8) share them.
        """
        if output_stride not in STAGE_PLANS:
            raise ValueError(f"output stride must be one of {sorted(STAGE_PLANS)} (network.output_stride, "
                             f"network.test_output_stride), got {output_stride!r}")
        strides, dilations = STAGE_PLANS[output_stride]
        multi_grid = output_stride != 32
        for index, (stage, stride, dilation) in enumerate(zip(self.stages(), strides, dilations)):
            per_block = block_dilations(dilation, len(stage), multi_grid and index == 3)
            for i, (blk, d) in enumerate(zip(stage, per_block)):
                blk.set_geometry(stride if i == 0 else 1, d)
        self.output_stride = output_stride

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs of res2..res5 (``layer1..layer4``)."""
        outputs = []
        x = self.stem(x)
        for stage in self.stages():
            x = stage(x)
            outputs.append(x)
        return tuple(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` -> res5 ``[N, out_channels, ceil(H / os), ceil(W / os)]``."""
        return self.forward_stages(x)[-1]


__all__ = ["ResNet", "Bottleneck", "BasicBlock", "STAGE_PLANS", "DEPTHS", "block_dilations"]
