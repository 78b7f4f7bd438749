"""ResNet backbone and embedding head: parity with the original's outputs and geometry, and the
output-stride switch on shared weights."""

from __future__ import annotations

import math
import zlib

import pytest
import torch
from torch import nn

from conftest import load_parity
from hsg.models.convert import from_original
from hsg.models.head import embedding_head
from hsg.models.resnet import ResNet, block_dilations

FIXTURE = "backbone_resnet50_conv_out.pt"
RUNS = {  # fixture run -> (output stride, train mode, relative tolerance suggested by the parity README)
    "train_build_eval_mode": (16, False, 1e-4),
    "train_build_train_mode": (16, True, 5e-4),
    "test_build_eval_mode": (8, False, 1e-4),
}


def regenerate(key: str, shape: list[int]) -> torch.Tensor:
    """One tensor of the fixture's weights, from the recipe in ../shared/parity/README.md §7."""
    g = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if key.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if len(shape) == 4:
        return math.sqrt(2 / (shape[0] * shape[2] * shape[3])) * torch.randn(shape, generator=g)
    if key.endswith("weight"):
        return 1 + 0.1 * torch.randn(shape, generator=g)
    assert key.endswith("bias"), key
    return 0.1 * torch.randn(shape, generator=g)


@pytest.fixture(scope="module")
def backbone_fixture(parity_dir):
    data = load_parity(parity_dir, FIXTURE)
    cfg = data["config"]
    original = {k: regenerate(k, s) for k, s in zip(cfg["state_dict_keys"], cfg["state_dict_shapes"])}
    ours = from_original(original)
    backbone = {k.removeprefix("backbone."): v for k, v in ours.items() if k.startswith("backbone.")}
    head = {k.removeprefix("head."): v for k, v in ours.items() if k.startswith("head.")}
    return data, original, backbone, head


def test_regenerated_weights_match_checksums(backbone_fixture):
    data, original, _, _ = backbone_fixture
    checksums = data["config"]["state_dict_checksums_sum_abssum"]
    assert len(original) == len(checksums) == 326
    for key, (total, abs_total) in checksums.items():
        values = original[key].double()
        assert values.sum().item() == pytest.approx(float(total), rel=1e-9, abs=1e-9), key
        assert values.abs().sum().item() == pytest.approx(float(abs_total), rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("run", list(RUNS))
def test_backbone_and_head_match_original(backbone_fixture, run):
    data, _, backbone_sd, head_sd = backbone_fixture
    output_stride, train, rtol = RUNS[run]
    # One instance built at the other stride and switched in place: the switch is what inference uses.
    backbone = ResNet(50, output_stride={16: 8, 8: 16}[output_stride])
    backbone.set_output_stride(output_stride)
    head = embedding_head(backbone.out_channels, data["config"]["embedding_dim"])
    backbone.load_state_dict(backbone_sd, strict=True)
    head.load_state_dict(head_sd, strict=True)
    backbone.train(train)
    head.train(train)
    ref = data["outputs"][run]
    with torch.no_grad():
        stages = backbone.forward_stages(data["inputs"]["image"])
        embedding = head(stages[-1])
    for name, ours in (("res5", stages[-1]), ("embedding", embedding)):
        expected = ref[name]
        assert ours.shape == expected.shape, name
        scale = expected.abs().max()
        assert (ours - expected).abs().max() <= rtol * scale, name
    for index, out in enumerate(stages):
        stats = ref[f"res{index + 2}_stats"]
        assert list(out.shape) == stats["shape"]
        scale = stats["channel_mean"].abs().max()
        assert (out.mean(dim=(0, 2, 3)) - stats["channel_mean"]).abs().max() <= rtol * scale
        assert (out.transpose(0, 1).flatten(1).std(dim=1) - stats["channel_std"]).abs().max() <= rtol * scale


GEOMETRY_KEYS = ("in", "out", "kernel", "stride", "padding", "dilation")


def _geometry(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.dilation[0])
            for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def test_conv_geometry_matches_both_builds_on_one_instance(parity_dir):
    cfg = load_parity(parity_dir, FIXTURE)["config"]
    with torch.device("meta"):
        model = nn.ModuleDict({"backbone": ResNet(50, output_stride=16), "head": embedding_head(2048, 128)})
    for output_stride, build in ((16, "train_build"), (8, "test_build"), (16, "train_build")):
        model["backbone"].set_output_stride(output_stride)
        ours = _geometry(model)
        expected = {}
        for conv in cfg[build]["conv_geometry"]:
            name = from_original({conv["module"] + ".weight": torch.empty(0)}).popitem()[0]
            expected[name.removesuffix(".weight")] = tuple(conv[k] for k in GEOMETRY_KEYS)
        assert ours == expected, build


def test_output_stride_switch_reuses_weights():
    torch.manual_seed(0)
    model = ResNet(50, width=8, output_stride=16).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        out16 = model(x)
        model.set_output_stride(8)
        out8 = model(x)
        fresh = ResNet(50, width=8, output_stride=8).eval()
        fresh.load_state_dict(model.state_dict())
        assert torch.equal(fresh(x), out8)
        model.set_output_stride(16)
        assert torch.equal(model(x), out16)
        model.set_output_stride(32)
        out32 = model(x)
    assert out16.shape == (2, 256, 4, 3) and out8.shape == (2, 256, 8, 6) and out32.shape == (2, 256, 2, 2)


@pytest.mark.parametrize("depth,params", [(18, 11_176_512), (34, 21_284_672), (50, 23_508_032),
                                          (101, 42_500_160)])
def test_parameter_counts_match_standard_resnets(depth, params):
    # torchvision's ResNet parameter counts without the classifier: same layers, same shapes.
    with torch.device("meta"):
        model = ResNet(depth)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model.out_channels == (512 if depth < 50 else 2048)


def _block_geometry(stage: nn.Sequential) -> list[tuple[int, int]]:
    """(stride, dilation) of the conv that carries them in each block."""
    convs = [blk.conv2 if hasattr(blk, "conv3") else blk.conv1 for blk in stage]
    return [(c.stride[0], c.dilation[0]) for c in convs]


def test_basic_block_resnets_follow_the_same_rules():
    with torch.device("meta"):
        r18 = ResNet(18, output_stride=16)
        r34 = ResNet(34, output_stride=8)
    assert _block_geometry(r18.layer3) == [(2, 1), (1, 1)]
    assert _block_geometry(r18.layer4) == [(1, 1), (1, 4)]  # res5 multi-grid cut to [1, 2]
    assert r18.layer4[1].conv2.dilation == (4, 4) and r18.layer4[1].conv2.padding == (4, 4)
    r18.set_output_stride(8)
    assert _block_geometry(r18.layer3) == [(1, 1), (1, 2)]
    assert _block_geometry(r18.layer4) == [(1, 2), (1, 8)]
    assert _block_geometry(r34.layer3) == [(1, 1)] + [(1, 2)] * 5
    assert _block_geometry(r34.layer4) == [(1, 2), (1, 8), (1, 16)]
    assert r18.layer1[0].downsample is None and r18.layer2[0].downsample is not None


def test_output_stride_32_is_the_plain_resnet():
    with torch.device("meta"):
        model = ResNet(50, output_stride=32)
    assert [_block_geometry(s)[0][0] for s in model.stages()] == [1, 2, 2, 2]
    assert all(d == 1 for s in model.stages() for _, d in _block_geometry(s))


def test_block_dilation_rule():
    assert block_dilations(1, 6, False) == [1] * 6
    assert block_dilations(2, 3, True) == [1, 4, 8]
    assert block_dilations(2, 6, False) == [1, 2, 2, 2, 2, 2]
    assert block_dilations(4, 3, True) == [2, 8, 16]


def test_width_scales_channels_and_init_follows_original():
    torch.manual_seed(0)
    model = ResNet(50, width=16)
    assert model.out_channels == 512
    conv = model.layer4[0].conv2  # 128 x 128 x 3 x 3: He fan-out std = sqrt(2 / (9 * 128))
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 128)), rel=0.05)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in bns)
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_head_shapes_and_bias():
    head = embedding_head(64, 16)
    assert head[0].bias is None and head[3].bias is not None
    assert head(torch.randn(2, 64, 5, 7)).shape == (2, 16, 5, 7)


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="network.backbone_depth"):
        ResNet(42)
    with torch.device("meta"):
        model = ResNet(18)
    with pytest.raises(ValueError, match="output stride must be one of"):
        model.set_output_stride(4)
    with pytest.raises(ValueError, match="network.embedding_dim"):
        embedding_head(64, 0)
