"""Clustering transformer, position embedding, query table and location features: parity with the
original's outputs, and the invariances the grouping relies on."""

from __future__ import annotations

import pytest
import torch

from conftest import load_parity
from hsg.models.convert import from_original, to_original
from hsg.models.position import PositionEmbedding, QueryEmbedding, location_features
from hsg.models.transformer import TransformerClustering

FIXTURES = ("transformer_clustering_fine_masked.pt", "transformer_clustering_coarse_nomask.pt")
MODES = {"eval": 1e-5, "train_dropout0": 1e-4}  # atol / rtol suggested by ../shared/parity/README.md §5


def _ours(state_dict: dict) -> dict:
    """The fixture's module-level original names -> our TransformerClustering names."""
    full = from_original({"fine_hrchy_transformer." + k: v for k, v in state_dict.items()})
    return {k.removeprefix("fine_transformer."): v for k, v in full.items()}


def _build(cfg: dict, state_dict: dict, dropout: float = 0.0) -> TransformerClustering:
    model = TransformerClustering(cfg["d_model"], cfg["nhead"], cfg["num_encoder_layers"],
                                  cfg["num_decoder_layers"], cfg["dim_feedforward"], dropout=dropout)
    model.load_state_dict(_ours(state_dict), strict=True)
    return model


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", FIXTURES)
def test_transformer_matches_original(parity_dir, name, mode):
    data = load_parity(parity_dir, name)
    model = _build(data["config"], data["state_dict"]).train(mode != "eval")
    inputs = data["inputs"]
    out = model(inputs["src"], inputs.get("mask"), inputs["query_embed"], inputs["pos_embed"])
    ref = data["outputs"][mode]
    tol = MODES[mode]
    for field in ("centroids", "centroid_feats", "logits", "memory"):
        torch.testing.assert_close(getattr(out, field), ref[field], atol=tol, rtol=tol, msg=field)
    assert torch.equal(out.order, ref["debug_sorted_query_index"])
    if mode == "train_dropout0":
        # BatchNorm running statistics after one forward (momentum 0.1, unbiased running variance).
        after = to_original({"fine_transformer." + k: v for k, v in model.state_dict().items()})
        for key, expected in ref["state_dict_after_forward"].items():
            torch.testing.assert_close(after["fine_hrchy_transformer." + key], expected, atol=1e-5, rtol=1e-5,
                                       msg=key)


@pytest.fixture(scope="module")
def fine_fixture(parity_dir):
    return load_parity(parity_dir, FIXTURES[0])


def _unsorted(out):
    """Outputs in the original query order, to compare runs whose sort may differ."""
    inverse = out.order.argsort(dim=1)
    centroids = out.centroids.gather(2, inverse[:, None, :].expand_as(out.centroids))
    logits = out.logits.gather(1, inverse[:, :, None].expand_as(out.logits))
    return centroids, logits


def test_padded_tokens_do_not_change_valid_results_in_eval(fine_fixture):
    """With running statistics, padding content must not leak into centroids or valid-token logits."""
    inputs = fine_fixture["inputs"]
    model = _build(fine_fixture["config"], fine_fixture["state_dict"]).eval()
    mask = inputs["mask"]
    noisy_src = torch.where(mask[:, None, :], torch.randn_like(inputs["src"]) * 5, inputs["src"])
    noisy_pos = torch.where(mask[:, None, :], torch.randn_like(inputs["pos_embed"]), inputs["pos_embed"])
    with torch.no_grad():
        base = _unsorted(model(inputs["src"], mask, inputs["query_embed"], inputs["pos_embed"]))
        noisy = _unsorted(model(noisy_src, mask, inputs["query_embed"], noisy_pos))
    torch.testing.assert_close(noisy[0], base[0], atol=1e-5, rtol=1e-5)
    valid = ~mask[:, None, :].expand_as(base[1])
    torch.testing.assert_close(noisy[1][valid], base[1][valid], atol=1e-5, rtol=1e-5)


def test_eval_is_per_sample_and_sorted_output_ignores_query_order(fine_fixture):
    inputs = fine_fixture["inputs"]
    model = _build(fine_fixture["config"], fine_fixture["state_dict"]).eval()
    src, mask, queries, pos = inputs["src"], inputs["mask"], inputs["query_embed"], inputs["pos_embed"]
    with torch.no_grad():
        batch = model(src, mask, queries, pos)
        single = model(src[1:2], mask[1:2], queries, pos[1:2])
        permuted = model(src, mask, queries[torch.randperm(queries.shape[0])], pos)
    torch.testing.assert_close(single.centroids, batch.centroids[1:2], atol=1e-5, rtol=1e-5)
    # The sort makes cluster k "the k-th most activated query", whatever the query table's row order.
    for field in ("centroids", "centroid_feats", "logits", "memory"):
        torch.testing.assert_close(getattr(permuted, field), getattr(batch, field), atol=1e-5, rtol=1e-5)
    scores = batch.logits.amax(dim=-1)
    assert torch.all(scores[:, :-1] >= scores[:, 1:])


def test_training_backward_and_bf16_autocast(fine_fixture):
    inputs = fine_fixture["inputs"]
    model = _build(fine_fixture["config"], fine_fixture["state_dict"], dropout=0.1).train()
    src = inputs["src"].clone().requires_grad_()
    pos = inputs["pos_embed"].clone().requires_grad_()
    queries = inputs["query_embed"].clone().requires_grad_()
    out = model(src, inputs["mask"], queries, pos)
    (out.logits.softmax(dim=1).square().sum() + out.centroid_feats.square().sum()).backward()
    for tensor in (src, pos, queries, *model.parameters()):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()
    assert src.grad.abs().sum() > 0 and queries.grad.abs().sum() > 0

    model.eval()
    with torch.no_grad():
        reference = model(inputs["src"], inputs["mask"], inputs["query_embed"], inputs["pos_embed"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(inputs["src"], inputs["mask"], inputs["query_embed"], inputs["pos_embed"])
    for field in ("centroids", "centroid_feats", "logits", "memory"):
        value = getattr(low, field)
        assert value.dtype == torch.float32, field
        # bf16 keeps ~3 significant digits; the outputs are O(1-6).
        torch.testing.assert_close(value, getattr(reference, field), atol=0.3, rtol=0.05, msg=field)


@pytest.mark.parametrize("masked", [True, False])
def test_single_token_sequences_keep_outputs_and_gradients_finite(masked):
    """One token per sequence has no spread: sigma = 0 (the original's unbiased std is even NaN there)."""
    torch.manual_seed(0)
    model = TransformerClustering(8, heads=2, dropout=0.0).train()
    src = torch.randn(3, 8, 1, requires_grad=True)
    mask = torch.zeros(3, 1, dtype=torch.bool) if masked else None
    out = model(src, mask, torch.randn(4, 8), None)
    assert torch.isfinite(out.logits).all()
    out.logits.sum().backward()
    assert torch.isfinite(src.grad).all()


def test_bad_inputs_are_reported():
    model = TransformerClustering(8, heads=2)
    src = torch.randn(2, 8, 5)
    with pytest.raises(ValueError, match=r"src must be \[B, 8, L\]"):
        model(torch.randn(2, 6, 5), None, torch.randn(3, 8), None)
    with pytest.raises(ValueError, match="mask must be a bool"):
        model(src, torch.zeros(2, 4, dtype=torch.bool), torch.randn(3, 8), None)
    with pytest.raises(ValueError, match="queries must be"):
        model(src, None, torch.randn(3, 6), None)
    with pytest.raises(ValueError, match="pos must have the shape of src"):
        model(src, None, torch.randn(3, 8), torch.randn(2, 8, 4))
    with pytest.raises(ValueError, match="at least 2 sequences"):
        model.train()(src[:1], None, torch.randn(3, 8), None)
    with pytest.raises(ValueError, match="network.transformer_heads"):
        TransformerClustering(10, heads=4)


def test_position_embedding_and_location_features_match_original(parity_dir):
    data = load_parity(parity_dir, "hsg_stage2_pipeline_g1.pt")
    ours = from_original({k: v for k, v in data["state_dict"].items() if k.startswith("pos_embed.")})
    table = ours["position.row.weight"]
    position = PositionEmbedding(2 * table.shape[1], max_position=table.shape[0])
    position.load_state_dict({k.removeprefix("position."): v for k, v in ours.items()}, strict=True)
    clusters = data["outputs"]["generate_clusters"][0]
    features = data["inputs"]["per_gpu"][0]["embedding"]
    assert torch.equal(position(features), clusters["position_embedding"])
    n, _, h, w = features.shape
    assert torch.equal(location_features(n, h, w), clusters["local_feature"])


def test_location_features_non_square(parity_dir):
    expected = load_parity(parity_dir, "kmeans_infer_grid3x5_it15_c16.pt")["inputs"]["local_features"]
    torch.testing.assert_close(location_features(*expected.shape[:3]), expected, atol=0, rtol=0)


def test_position_embedding_layout_and_limit():
    position = PositionEmbedding(6, max_position=4)
    pos = position(torch.zeros(2, 1, 3, 4))
    assert pos.shape == (2, 6, 3, 4)
    assert torch.equal(pos[1, :3, 2, 1], position.col.weight[1])
    assert torch.equal(pos[0, 3:, 2, 1], position.row.weight[2])
    assert 0 <= position.row.weight.min() and position.row.weight.max() <= 1
    with pytest.raises(ValueError, match=r"5x4 exceeds .*network.max_position = 4"):
        position(torch.zeros(1, 1, 5, 4))


def test_query_embedding():
    torch.manual_seed(0)
    queries = QueryEmbedding(8, 256)
    assert queries() is queries.weight and queries().shape == (8, 256)
    assert queries.weight.std().item() == pytest.approx(1.0, abs=0.05)
