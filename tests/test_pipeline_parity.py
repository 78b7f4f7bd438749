"""The whole stage-2 step (clustering -> node sets -> transformers -> gathering -> all five losses ->
backward) against the original on one and on two (simulated) GPUs."""

from collections import defaultdict

import pytest
import torch

from conftest import load_parity
from hsg.config import get_default_config
from hsg.losses.hsg_loss import hsg_losses, total_loss
from hsg.models.convert import from_original, to_original
from hsg.models.embedding import HSGModel

STAGE2 = ["train.fine_hrchy_loss_types=segsort", "train.coarse_hrchy_loss_types=segsort",
          "train.dmon_loss_types=dmon", "train.centroid_cont_loss_types=segsort"]


def _model(state_dict):
    cfg = get_default_config()
    cfg.merge_from_list(["network.embedding_dim=32", "network.backbone_depth=18", "network.backbone_width=8",
                         "network.hierarchy=true", "network.transformer_dropout=0.0",
                         "network.kmeans_num_clusters=[4,4]", "network.kmeans_iterations=15",
                         "network.node_padding=256", *STAGE2])
    model = HSGModel(cfg.network, cfg.train)
    _, unexpected = model.load_state_dict(from_original(state_dict), strict=False)
    assert not unexpected
    return model.train(), cfg


def _simulated_gather(outs, cfg, images_per_gpu):
    """Run the losses of every simulated GPU with a gather that concatenates all GPUs' tensors (with their
    autograd graphs), as torch.distributed would: a first pass records what each GPU contributes."""
    calls = [[] for _ in outs]

    def recorder(g):
        def gather(t):
            calls[g].append(t)
            return t, 0
        return gather

    for g, out in enumerate(outs):
        hsg_losses(out, cfg.train, gather=recorder(g), image_offset=g * images_per_gpu)

    def concatenating(g):
        index = [0]

        def gather(_):
            parts = [calls[h][index[0]] for h in range(len(outs))]
            index[0] += 1
            return torch.cat(parts), sum(p.shape[0] for p in parts[:g])
        return gather

    return [hsg_losses(out, cfg.train, gather=concatenating(g), image_offset=g * images_per_gpu)
            for g, out in enumerate(outs)]


@pytest.mark.parametrize("name", ["hsg_stage2_pipeline_g1.pt", "hsg_stage2_pipeline_g2.pt"])
def test_stage2_step_matches_original(parity_dir, name):
    d = load_parity(parity_dir, name)
    model, cfg = _model(d["state_dict"])
    ref_out = d["outputs"]
    outs, embeddings = [], []
    for g, inp in enumerate(d["inputs"]["per_gpu"]):
        emb = inp["embedding"].clone().requires_grad_(True)
        region = inp["instance_label_resized"].clone()
        region[inp["semantic_label_resized"] == 255] = -1
        out = model.segment(emb, region)
        model.group(emb, out)
        ref = ref_out["generate_clusters"][g]
        assert torch.equal(out["pixel_segment"], ref["cluster_index"])
        torch.testing.assert_close(out["node_prototype"], ref["nd_prototype"], atol=1e-6, rtol=0)
        assert torch.equal(out["node_padding_mask"], ref["nd_prototype_padding_mask"])
        assert torch.equal(out["node_view"] % 4, ref["nd_prototype_batch_index"] % 4)  # local view ids
        assert torch.equal(out["pixel_fine"], ref["finehrchy_cluster_index"])
        assert torch.equal(out["pixel_coarse"], ref["coarsehrchy_cluster_index"])
        torch.testing.assert_close(out["fine_prob"], ref["finehrchy_nd_prototype_grouping_logit"], atol=1e-3, rtol=0)
        torch.testing.assert_close(out["coarse_prob"], ref["coarsehrchy_nd_prototype_grouping_logit"], atol=1e-3,
                                   rtol=0)
        torch.testing.assert_close(out["fine_centroid"], ref["finehrchy_nd_prototype_grouping_centroid"],
                                   atol=1e-3, rtol=0)
        torch.testing.assert_close(out["coarse_centroid"], ref["coarsehrchy_nd_prototype_grouping_centroid"],
                                   atol=3e-3, rtol=0)
        outs.append(out)
        embeddings.append(emb)

    # Global bookkeeping: prototypes of every GPU's segments, and the segment -> group mappings.
    targets = ref_out["targets_after_gather"][0]
    prototypes = torch.cat([o["segment_prototype"] for o in outs])
    torch.testing.assert_close(prototypes, targets["prototype"], atol=1e-6, rtol=0)
    images = torch.cat([o["segment_view"] // 2 + 2 * g for g, o in enumerate(outs)])
    for level in ("fine", "coarse"):
        groups = torch.cat([o[f"segment_{level}"] for o in outs])
        dense = torch.unique(images * 100 + groups, return_inverse=True)[1]
        assert torch.equal(dense, targets[f"{level}hrchy_mapping_index"])

    terms = _simulated_gather(outs, cfg, images_per_gpu=2)
    for g, t in enumerate(terms):
        ref = ref_out["prediction_outputs_per_gpu"][g]
        torch.testing.assert_close(t["img_sim"], ref["img_sim_loss"], rtol=1e-5, atol=0)
        torch.testing.assert_close(t["fine_hrchy"] + t["coarse_hrchy"], ref["hrchy_group_loss"], rtol=1e-5, atol=0)
        torch.testing.assert_close(t["dmon"] + t["collapse"] + t["centroid_cont"], ref["clustering_loss"],
                                   rtol=1e-5, atol=0)
        torch.testing.assert_close(t["accuracy"], ref["accuracy"])
    total = sum(total_loss(t) for t in terms) / len(terms)
    torch.testing.assert_close(total, ref_out["total_loss"], rtol=1e-5, atol=0)

    total.backward()
    # Gradients: the original's own float32 gradients are up to ~2.5e-3 x max away from the float64 value in
    # the transformers (BatchNorm over 2 rows in the decoder-target MLP amplifies rounding), so two float32
    # implementations may differ by twice that. Checked per tensor group against its largest gradient.
    for g, emb in enumerate(embeddings):
        ref = ref_out["grad_embedding_per_gpu"][g]
        torch.testing.assert_close(emb.grad, ref, atol=5e-3 * ref.abs().max().item(), rtol=0)
    ours = to_original({k: p.grad for k, p in model.named_parameters()
                        if p.grad is not None and not k.startswith(("backbone", "head"))})
    groups = defaultdict(list)
    for k in ref_out["grad_params"]:
        groups[k.split(".")[0]].append(k)
    for keys in groups.values():
        scale = max(ref_out["grad_params"][k].abs().max().item() for k in keys)
        for k in keys:
            torch.testing.assert_close(ours[k], ref_out["grad_params"][k], atol=5e-3 * scale, rtol=0, msg=k)
    if "grad_params_norm" in ref_out:  # g2 stores only the norm of every other parameter's gradient
        norms = ref_out["grad_params_norm"]
        scale = defaultdict(float)
        for k, norm in norms.items():
            scale[k.split(".")[0]] = max(scale[k.split(".")[0]], float(norm))
        for k, norm in norms.items():
            if k in ours:  # biases feeding a train-mode BatchNorm have ~0 gradient: noise, hence the abs term
                assert ours[k].norm().item() == pytest.approx(float(norm), rel=1e-2,
                                                             abs=5e-3 * scale[k.split(".")[0]]), k


def _grouping(parity_dir, dtype):
    """The grouping half of the stage-2 step at the recipe's width (C = 128) on a real backbone's output."""
    d = load_parity(parity_dir, "hsg_grouping_resnet50_c128.pt")
    cfg = get_default_config()
    cfg.merge_from_list(["network.embedding_dim=128", "network.backbone_depth=18", "network.backbone_width=8",
                         "network.hierarchy=true", "network.transformer_dropout=0.0",
                         "network.kmeans_num_clusters=[4,4]", "network.kmeans_iterations=15",
                         "network.node_padding=256", *STAGE2])
    model = HSGModel(cfg.network, cfg.train)
    _, unexpected = model.load_state_dict(from_original(d["state_dict"]), strict=False)
    assert not unexpected
    model = model.to(dtype).train()
    inp = d["inputs"]
    region = inp["instance_label_resized"].clone()
    region[inp["semantic_label_resized"] == 255] = -1
    emb = inp["embedding"].to(dtype)
    out = model.segment(emb, region)
    model.group(emb, out)
    return d, cfg, out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_grouping_at_recipe_width_matches_original(parity_dir, dtype):
    """Labels exact; probabilities within the original's own float32 error (float32) or 1e-10 (float64)."""
    d, cfg, out = _grouping(parity_dir, dtype)
    ref = d["outputs"]["float32" if dtype == torch.float32 else "float64"]
    assert torch.equal(out["pixel_segment"], ref["cluster_index"])
    assert torch.equal(out["node_padding_mask"], ref["nd_prototype_padding_mask"])
    assert torch.equal(out["pixel_fine"], ref["finehrchy_cluster_index"])
    assert torch.equal(out["pixel_coarse"], ref["coarsehrchy_cluster_index"])
    # The original's float32 grouping is ~1e-4 (fine) and ~2e-4 (coarse) away from its own float64 run.
    atol = 2e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out["node_prototype"], ref["nd_prototype"], atol=1e-6 if dtype == torch.float32
                               else 1e-12, rtol=0)
    torch.testing.assert_close(out["fine_prob"], ref["finehrchy_nd_prototype_grouping_logit"], atol=atol, rtol=0)
    torch.testing.assert_close(out["coarse_prob"], ref["coarsehrchy_nd_prototype_grouping_logit"], atol=atol, rtol=0)
    if dtype == torch.float64:
        torch.testing.assert_close(out["fine_centroid"], ref["finehrchy_nd_prototype_grouping_centroid"],
                                   atol=1e-10, rtol=0)
        torch.testing.assert_close(out["coarse_centroid"], ref["coarsehrchy_nd_prototype_grouping_centroid"],
                                   atol=1e-10, rtol=0)
    else:
        terms = hsg_losses(out, cfg.train)
        losses = d["outputs"]["float32_losses"]
        torch.testing.assert_close(terms["img_sim"], losses["img_sim_loss"], rtol=1e-5, atol=0)
        torch.testing.assert_close(terms["fine_hrchy"] + terms["coarse_hrchy"], losses["hrchy_group_loss"],
                                   rtol=1e-5, atol=0)
        torch.testing.assert_close(terms["dmon"] + terms["collapse"] + terms["centroid_cont"],
                                   losses["clustering_loss"], rtol=1e-5, atol=0)
