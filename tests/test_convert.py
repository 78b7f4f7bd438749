"""Checkpoint converter: the original's names <-> ours, over every parameter of the original model, plus
the file handling of pyenv/convert_checkpoint.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import load_parity
from hsg.errors import CheckpointError
from hsg.models.weights import read_checkpoint_file
from hsg.models.convert import (as_ours, extract_state_dict, from_original, is_original,
                                to_original)
from hsg.models.head import embedding_head
from hsg.models.position import PositionEmbedding, QueryEmbedding
from hsg.models.resnet import ResNet
from hsg.models.transformer import TransformerClustering


@pytest.fixture(scope="module")
def original_state_dict(parity_dir) -> dict[str, torch.Tensor]:
    """Every name of the original COCO stage-2 model: the 326 backbone + conv_out keys (random values of
    the recorded shapes) and the pipeline fixture's position, query and transformer tensors (C = 32)."""
    cfg = load_parity(parity_dir, "backbone_resnet50_conv_out.pt")["config"]
    torch.manual_seed(0)
    state = {k: torch.randn(s) if s else torch.tensor(7)
             for k, s in zip(cfg["state_dict_keys"], cfg["state_dict_shapes"])}
    state.update(load_parity(parity_dir, "hsg_stage2_pipeline_g1.pt")["state_dict"])
    return state


def _our_model() -> nn.ModuleDict:
    """The modules of our HSG model, sized like the fixtures (head 2048 -> 128, transformers C = 32)."""
    with torch.device("meta"):
        return nn.ModuleDict({
            "backbone": ResNet(50),
            "head": embedding_head(2048, 128),
            "position": PositionEmbedding(32, max_position=50),
            "fine_queries": QueryEmbedding(8, 32),
            "coarse_queries": QueryEmbedding(4, 32),
            "fine_transformer": TransformerClustering(32),
            "coarse_transformer": TransformerClustering(32),
        })


def test_round_trip_is_identity_and_loads_strictly(original_state_dict):
    assert len(original_state_dict) == 326 + 234
    ours = from_original(original_state_dict)
    assert len(ours) == len(original_state_dict)
    assert ours["backbone.layer1.0.downsample.0.weight"] is original_state_dict[
        "resnet_backbone.res2.0.downsample.0.weight"]
    assert "fine_transformer.decoder_layers.1.cross_attn.in_proj_weight" in ours
    model = _our_model()
    model.load_state_dict(ours, strict=True, assign=True)
    back = to_original(model.state_dict())
    assert list(back) == list(original_state_dict)
    for key, value in original_state_dict.items():
        assert torch.equal(back[key], value), key


def test_our_names_round_trip():
    ours = _our_model().state_dict()
    again = from_original(to_original(ours))
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def test_checkpoint_layouts_are_accepted(original_state_dict):
    small = {k: v for k, v in original_state_dict.items() if k.startswith(("conv_out.", "pos_embed."))}
    wrapped = {"embedding_model": {"module." + k: v for k, v in small.items()}, "prediction_model": {}}
    assert is_original(extract_state_dict(wrapped))
    assert from_original(extract_state_dict(wrapped)) == from_original(small)
    ours = from_original(small)
    assert extract_state_dict({"model": ours, "iteration": 3}) == ours
    assert extract_state_dict(small) == small
    assert not is_original(ours)


def test_unknown_and_malformed_keys_are_reported(original_state_dict):
    bad = dict(original_state_dict)
    bad["resnet_backbone.res2.0.conv9.weight"] = torch.zeros(1)
    bad["fc.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"my\.pth: 2 key\(s\) are not parameters of the original HSG "
                                              r"model: resnet_backbone\.res2\.0\.conv9\.weight, fc\.weight"):
        from_original(bad, source="my.pth")
    with pytest.raises(CheckpointError, match="not parameters of our HSG model: backbone.fc.weight"):
        to_original({"backbone.fc.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="ckpt: not a state dict"):
        extract_state_dict({"embedding_model": {"a": 1}}, source="ckpt")


def _cli():
    from hsg.cli import convert_checkpoint

    return convert_checkpoint


def test_cli_converts_both_ways(original_state_dict, tmp_path, capsys):
    cli = _cli()
    pipeline = {k: v for k, v in original_state_dict.items() if not k.startswith(("resnet_backbone.", "conv_out."))}
    src = tmp_path / "model-349999.pth"
    torch.save({"embedding_model": pipeline, "prediction_model": {}}, src)
    assert cli.main(["--checkpoint", str(src), "--out", str(tmp_path / "ours.pth")]) == 0
    assert "234 tensors in the ours naming" in capsys.readouterr().out
    ours = as_ours(read_checkpoint_file(tmp_path / "ours.pth"))
    assert ours.keys() == from_original(pipeline).keys()
    assert as_ours(read_checkpoint_file(src)).keys() == ours.keys()
    assert cli.main(["--src", str(tmp_path / "ours.pth"), "--dst", str(tmp_path / "back.pth"), "--to",
                     "original"]) == 0  # the earlier flag names still work
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    assert back["prediction_model"] == {}
    assert all(torch.equal(back["embedding_model"][k], v) for k, v in pipeline.items())
    assert back["embedding_model"].keys() == pipeline.keys()


def test_cli_reports_bad_sources(tmp_path, capsys):
    cli = _cli()

    def fails(source: Path) -> str:
        with pytest.raises(SystemExit) as exit_:
            cli.main(["--checkpoint", str(source), "--out", str(tmp_path / "x.pth")])
        assert exit_.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("[convert_checkpoint] error: ") and "Traceback" not in err
        return err

    missing = tmp_path / "missing.pth"
    assert f"{missing}: checkpoint file not found" in fails(missing)
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    assert f"{garbage}: cannot read the checkpoint" in fails(garbage)
    ours = tmp_path / "ours.pth"
    torch.save({"model": {"head.0.weight": torch.zeros(1)}}, ours)
    assert "already uses our parameter names" in fails(ours)
    assert not (tmp_path / "x.pth").exists()


@pytest.fixture(scope="module")
def released_state_dict(parity_dir) -> dict[str, torch.Tensor]:
    """Exactly the key set and shapes of the released stage-2 models' ``embedding_model`` (COCO 128 / 192 and
    Cityscapes): the original ResNet-50 + conv_out (326 keys) and its position embedding, queries and
    transformers at the recipe's width C = 128 (234 keys), as the original model definition names and
    shapes them (the fixtures record them); values are random, nothing is downloaded."""
    backbone = load_parity(parity_dir, "backbone_resnet50_conv_out.pt")["config"]
    torch.manual_seed(0)
    state = {k: torch.randn(s) if s else torch.tensor(7)
             for k, s in zip(backbone["state_dict_keys"], backbone["state_dict_shapes"])}
    grouping = load_parity(parity_dir, "hsg_grouping_resnet50_c128.pt")["state_dict"]
    state.update({k: torch.randn(v.shape) if v.dim() else torch.tensor(7) for k, v in grouping.items()})
    return state


@pytest.mark.parametrize("preset", ["coco_stage2", "cityscapes_stage2"])
def test_released_checkpoints_load_into_the_recipes_models(released_state_dict, preset, tmp_path, capsys):
    """A file laid out as the released ones loads, every tensor in place, into the model our recipe's
    preset builds, directly and after hsg-convert."""
    from hsg.config.config import load_config
    from hsg.models.weights import load_model_weights
    from hsg.models.model import build_model

    released = tmp_path / "hsg_released.pth"
    torch.save({"embedding_model": released_state_dict, "prediction_model": {}}, released)
    model = build_model(load_config(preset))
    keys = load_model_weights(model, released)
    assert keys == {"missing": [], "unexpected": []} and len(model.state_dict()) == len(released_state_dict)
    ours = model.state_dict()
    for key, value in from_original(released_state_dict).items():
        assert torch.equal(ours[key], value), key
    assert _cli().main(["--checkpoint", str(released), "--out", str(tmp_path / "ours.pth")]) == 0
    assert "560 tensors in the ours naming (backbone 318, head 8, position 2, fine_queries 1, coarse_queries 1, " \
           "fine_transformer 115, coarse_transformer 115)" in capsys.readouterr().out
    again = build_model(load_config(preset))
    assert load_model_weights(again, tmp_path / "ours.pth") == keys
