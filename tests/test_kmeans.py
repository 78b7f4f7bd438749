"""Spherical k-means segmentation: parity with the original and hand-checkable cases."""

import pytest
import torch

from conftest import load_parity
from hsg.clustering.kmeans import (embedding_with_location, grid_labels, kmeans_segments, legacy_nearest_resize,
                                   location_features, segment_prototypes, spherical_kmeans)

FIXTURES = ["kmeans_grid1x1_it1_c16.pt", "kmeans_grid4x4_it15_c16.pt", "kmeans_grid4x4_it15_c128.pt",
            "kmeans_infer_grid3x5_it15_c16.pt"]


@pytest.mark.parametrize("name", FIXTURES)
def test_kmeans_matches_original(parity_dir, name):
    d = load_parity(parity_dir, name)
    inp, out, cfg = d["inputs"], d["outputs"], d["config"]
    regions = inp["instance_label"].clone()
    regions[inp["labels"] == inp["ignore_index"]] = -1
    res = kmeans_segments(inp["embeddings"], regions, cfg["num_clusters"], cfg["iterations"])
    n, _, h, w = inp["embeddings"].shape
    assert torch.equal(res.pixel_index, d["debug"]["valid_pixel_flat_index"])
    assert torch.equal(res.pixel_segment, out["cluster_index"])
    assert torch.equal(res.view[res.pixel_segment], out["cluster_batch_index"])
    assert torch.equal(res.region[res.pixel_segment], out["cluster_instance_label"])
    torch.testing.assert_close(res.pixel_embedding, out["cluster_embedding"], atol=1e-6, rtol=0)
    # The vector k-means clusters, and its labels before the intersection with the regions.
    _, with_loc = embedding_with_location(inp["embeddings"])
    with_loc = with_loc.reshape(n * h * w, -1)[res.pixel_index]
    torch.testing.assert_close(with_loc, out["cluster_embedding_with_loc"], atol=1e-6, rtol=0)
    valid = (regions >= 0).reshape(n, h * w)
    init = grid_labels(h, w, cfg["num_clusters"]).reshape(-1)
    k = cfg["num_clusters"][0] * cfg["num_clusters"][1]
    labels = spherical_kmeans(embedding_with_location(inp["embeddings"])[1], valid, init, k, cfg["iterations"])
    assert torch.equal(labels.reshape(-1)[res.pixel_index], torch.cat(d["debug"]["kmeans_labels_per_view"]))
    assert res.count == d["debug"]["num_segments"]
    torch.testing.assert_close(res.prototype, segment_prototypes(res.pixel_embedding, res.pixel_segment, res.count))


def test_grid_labels_are_column_major_with_small_edge_cells():
    g = grid_labels(14, 14, [4, 4])
    assert g[0, :].unique().tolist() == [0, 4, 8, 12]  # ids grow down columns first
    rows = [int((g[:, 0] == k).sum()) for k in range(4)]
    assert rows == [3, 4, 4, 3]


def test_location_features_range_and_order():
    loc = location_features(2, 3, 5)
    assert loc.shape == (2, 3, 5, 2)
    assert loc[0, :, 0, 0].tolist() == [-0.5, 0.0, 0.5]  # channel 0 is y
    assert loc[0, 0, :, 1].tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5]  # channel 1 is x


def test_kmeans_separates_two_clear_clusters():
    # Left half points one way, right half the opposite way: a 1x2 grid must recover the halves exactly.
    emb = torch.zeros(1, 4, 6, 8)
    emb[0, 0, :, :4] = 1.0
    emb[0, 1, :, 4:] = 1.0
    region = torch.zeros(1, 6, 8, dtype=torch.long)
    res = kmeans_segments(emb, region, [1, 2], iterations=5)
    seg = res.pixel_map(res.pixel_segment)[0]
    assert seg[:, :4].unique().numel() == 1 and seg[:, 4:].unique().numel() == 1
    assert seg[0, 0] != seg[0, 7]


def test_segments_intersect_regions_and_skip_padding():
    emb = torch.randn(2, 3, 4, 4)
    region = torch.zeros(2, 4, 4, dtype=torch.long)
    region[:, :, 2:] = 5000  # ids far beyond the original's 2048 divisor must not alias
    region[1, 3, :] = -1  # padding row
    res = kmeans_segments(emb, region, [1, 1], iterations=1)
    assert res.pixel_index.numel() == 16 + 12
    # 1x1 grid: segments = regions per view
    assert res.region.tolist() == [0, 5000, 0, 5000]
    assert res.view.tolist() == [0, 0, 1, 1]
    assert res.pixel_map(res.pixel_segment)[1, 3].tolist() == [-1] * 4  # padding has no segment


def test_segment_prototypes_are_normalised_sums():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    p = segment_prototypes(x, torch.tensor([0, 0, 1]), 2)
    torch.testing.assert_close(p, torch.tensor([[0.7071068, 0.7071068], [0.6, 0.8]]))


def test_legacy_nearest_resize_samples_top_left():
    lab = torch.arange(16 * 16).view(1, 16, 16)
    out = legacy_nearest_resize(lab, (4, 4))
    assert out[0, 1, 1].item() == lab[0, 4, 4].item()
    assert out.shape == (1, 4, 4)
