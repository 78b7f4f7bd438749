"""Loss terms: parity with the original's numbers and hand-checkable cases."""

import math

import pytest
import torch

from conftest import load_parity
from hsg.losses.dmon import dmon_losses, knn_graph
from hsg.losses.segsort import segsort_loss, segsort_losses, segsort_nll, topk_accuracy


def _call(c):
    return c["embeddings"], c["instance_labels"], c["prototypes"], c["prototype_semantic_labels"]


@pytest.mark.parametrize("name", ["segsort_img_sim_g1.pt", "segsort_img_sim_g2.pt"])
def test_img_sim_matches_original(parity_dir, name):
    d = load_parity(parity_dir, name)
    c, o = d["inputs"]["call"], d["outputs"]
    # The row label is always its own prototype's label, which is how our loss derives it.
    assert torch.equal(c["semantic_labels"], c["prototype_semantic_labels"][c["instance_labels"]])
    nll, fallback = segsort_nll(*_call(c), kappa=16.0)
    torch.testing.assert_close(nll, o["per_row_nll"], rtol=1e-5, atol=1e-6)
    assert torch.equal(fallback, o["debug_row_uses_own_prototype_fallback"])
    torch.testing.assert_close(segsort_loss(*_call(c), kappa=16.0), o["loss_unweighted"], rtol=1e-6, atol=0)
    acc = topk_accuracy(c["prototypes"], c["prototype_semantic_labels"], k=5)
    torch.testing.assert_close(acc, o["accuracy_top5"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["hrchy_losses_g1.pt", "hrchy_losses_g2.pt", "centroid_cont_g1.pt",
                                  "centroid_cont_g2.pt"])
def test_hierarchy_and_centroid_losses_match_original(parity_dir, name):
    d = load_parity(parity_dir, name)
    for level in ("fine", "coarse"):
        c, o = d["inputs"][f"{level}_call"], d["outputs"][level]
        nll, fallback = segsort_nll(*_call(c), kappa=16.0)
        torch.testing.assert_close(nll, o["per_row_nll"], rtol=1e-5, atol=1e-6)
        assert torch.equal(fallback, o["debug_row_uses_own_prototype_fallback"])


def test_two_segment_loss_by_hand():
    # Pixel 0 belongs to segment 0; segment 1 has the same label (a cross-view match), segment 2 not.
    x = torch.tensor([[1.0, 0.0]])
    protos = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    labels = torch.tensor([7, 7, 3])
    k = 2.0
    expected = -math.log(math.exp(k * 0.6) / (math.exp(k * 0.6) + math.exp(0.0)))
    nll, fallback = segsort_nll(x, torch.tensor([0]), protos, labels, k)
    assert not fallback.item()
    assert nll.item() == pytest.approx(expected, rel=1e-6)
    # Without a same-label partner the own prototype is the positive.
    nll, fallback = segsort_nll(x, torch.tensor([0]), protos, torch.tensor([7, 8, 3]), k)
    expected = -math.log(math.exp(k) / (math.exp(k) + math.exp(k * 0.6) + 1.0))
    assert fallback.item() and nll.item() == pytest.approx(expected, rel=1e-6)


def test_segsort_is_finite_for_large_concentration():
    x = torch.nn.functional.normalize(torch.randn(5, 4), dim=1)
    nll, _ = segsort_nll(x, torch.arange(5), x, torch.arange(5), kappa=200.0)
    assert torch.isfinite(nll).all()


def test_segsort_normalizer_scales_the_sum():
    x = torch.nn.functional.normalize(torch.randn(6, 3), dim=1)
    mean = segsort_loss(x, torch.arange(6), x, torch.tensor([0, 0, 1, 1, 2, 2]), 4.0)
    summed = segsort_loss(x, torch.arange(6), x, torch.tensor([0, 0, 1, 1, 2, 2]), 4.0, normalizer=1.0)
    torch.testing.assert_close(summed, mean * 6)


def test_dmon_synthetic_matches_original(parity_dir):
    d = load_parity(parity_dir, "dmon_synthetic.pt")
    i, o = d["inputs"], d["outputs"]
    for key, groups, k in [("hsg_per_view_knn2", i["x_segment_labels"], 2), ("hsg_cs_joint_knn4", None, 4)]:
        adj = knn_graph(i["x"], i["x_padding_mask"], groups, k)
        assert torch.equal(adj, o[key]["adjacency_bool"])
        for level in ("coarse", "fine"):
            dm, co = dmon_losses(i[f"{level}_logits"], adj, i["x_padding_mask"])
            torch.testing.assert_close(dm, o[key][level]["per_graph_dmon_loss"], atol=1e-6, rtol=0)
            torch.testing.assert_close(co, o[key][level]["per_graph_collapse_loss"], atol=1e-6, rtol=0)


def test_dmon_captured_matches_original(parity_dir):
    d = load_parity(parity_dir, "dmon_captured_g1.pt")
    i, o = d["inputs"], d["outputs"]
    adj = knn_graph(i["x"], i["x_padding_mask"], i["x_segment_labels"] % 2, 2)
    assert torch.equal(adj, o["adjacency_knn2_per_view_bool"])
    assert torch.equal(knn_graph(i["x"], i["x_padding_mask"], None, 4), o["adjacency_joint_knn4_bool"])
    total = 0.0
    for level in ("coarse", "fine"):
        dm, co = dmon_losses(i[f"{level}_logits"], adj, i["x_padding_mask"])
        torch.testing.assert_close(dm.mean(), o[level]["dmon_loss"], atol=1e-6, rtol=0)
        torch.testing.assert_close(co.mean(), o[level]["collapse_loss"], atol=1e-6, rtol=0)
        total = total + dm.mean() + co.mean()
    torch.testing.assert_close(total, o["clustering_dmon_part"], atol=1e-6, rtol=0)


def test_dmon_prefers_the_true_communities():
    # Two cliques of 4 nodes and no edge between them: one group per clique must score better than a
    # grouping that mixes the cliques, with the value computed by hand below.
    n = 8
    adj = torch.zeros(1, n, n, dtype=torch.bool)
    adj[0, :4, :4] = True
    adj[0, 4:, 4:] = True
    adj[0].fill_diagonal_(False)
    mask = torch.zeros(1, n, dtype=torch.bool)
    good = torch.zeros(1, 2, n)
    good[0, 0, :4] = 1
    good[0, 1, 4:] = 1
    mixed = torch.zeros(1, 2, n)
    mixed[0, 0, ::2] = 1
    mixed[0, 1, 1::2] = 1
    d_good, c_good = dmon_losses(good, adj, mask)
    d_mixed, _ = dmon_losses(mixed, adj, mask)
    # By hand: d = 3 per node, Z = 2*24 = 48; tr(S^T A S) = 24; ||S^T d||^2 = 12^2+12^2 = 288
    # Q = 24 - 288/48 = 18; loss = 1 - 18/48.
    assert d_good.item() == pytest.approx(1 - 18 / 48, rel=1e-6)
    assert d_good.item() < d_mixed.item()
    # Balanced groups: collapse = sqrt(2) * ||[4, 4]|| / 8 = 1.
    assert c_good.item() == pytest.approx(1.0, rel=1e-6)


def test_knn_graph_keeps_k_neighbours_per_view():
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(1, 8, 10), dim=1)
    mask = torch.zeros(1, 10, dtype=torch.bool)
    mask[0, 8:] = True
    views = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, -1, -1]])
    adj = knn_graph(x, mask, views % 2, knn=2)[0]
    assert not adj[8:].any() and not adj[:, 8:].any()  # padded nodes are isolated
    assert not adj.diagonal()[:8].any()  # no self-loops
    # Each valid node keeps its 2 most similar nodes in each view: its zeroed self entry is a candidate
    # but never among the top 2 when the view has more than 2 nodes.
    for row in range(8):
        assert int(adj[row, :4].sum()) + int(adj[row, 4:8].sum()) == 4


def test_fused_terms_equal_the_readable_formula_and_its_autograd():
    # segsort_losses has a hand-written backward; check values and gradients (float64) against autograd
    # through segsort_nll, with several label sets, two concentrations and fallback rows.
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(40, 6, generator=g, dtype=torch.float64), dim=1)
    p = torch.nn.functional.normalize(torch.randn(15, 6, generator=g, dtype=torch.float64), dim=1)
    own = torch.randint(0, 15, (40,), generator=g)
    label_sets = [torch.randint(0, 5, (15,), generator=g), torch.arange(15), torch.randint(0, 3, (15,), generator=g)]
    kappas = [16.0, 16.0, 4.0]
    xa, pa = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
    ref = torch.stack([segsort_nll(xa, own, pa, lab, k)[0].sum() / 7.0 for lab, k in zip(label_sets, kappas)])
    weights = torch.tensor([1.0, 0.1, 0.3], dtype=torch.float64)
    (ref * weights).sum().backward()
    xb, pb = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
    fused = segsort_losses(xb, own, pb, label_sets, kappas, normalizer=7.0)
    (fused * weights).sum().backward()
    torch.testing.assert_close(fused, ref.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(pb.grad, pa.grad, rtol=1e-10, atol=1e-12)
