"""All HSG loss terms for one process, with the global-batch bookkeeping they need.

Terms (weights, concentrations and switches from ``cfg.train``):
* ``img_sim``: every pixel against every segment of the global batch; positives are the other segments
  of the same over-segmentation region of the same image, in either view (multiview co-segmentation).
* ``fine_hrchy`` / ``coarse_hrchy``: the same rows and columns, positives = segments in the same fine
  (coarse) group of the same image.
* ``dmon`` and ``collapse``: DMoN on each image's kNN segment graph, for both levels.
* ``centroid_cont``: every group centroid repelled from all other centroids of the global batch.

Segments never span processes (a segment lives in one view), so each process gathers only per-segment
rows (prototypes with their gradient, and integer labels) instead of per-pixel data. Labels are compared
through keys built from the actual maxima of the gathered ids, so they cannot alias however many regions
an image has (the original packed ids with a fixed divisor of 2048).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch

from hsg.clustering.kmeans import l2_normalize
from hsg.losses.dmon import dmon_losses, knn_graph
from hsg.losses.segsort import segsort_loss, segsort_losses, topk_accuracy

if TYPE_CHECKING:  # the losses read the model's typed output; they never build or call a model
    from hsg.models.model import ModelOutput

# Concatenates a tensor over processes (rank order) and returns it with this process's row offset.
GatherFn = Callable[[torch.Tensor], tuple[torch.Tensor, int]]


def _local_gather(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    return t, 0


def _key(major: torch.Tensor, minor: torch.Tensor) -> torch.Tensor:
    """Injective integer key of (major, minor) pairs, sized from the data."""
    return major * (int(minor.max().item()) + 1 if minor.numel() else 1) + minor


def hsg_losses(out: ModelOutput, cfg_train, gather: GatherFn = _local_gather,
               pixel_normalizer: float | torch.Tensor | None = None, image_offset: int = 0
               ) -> dict[str, torch.Tensor]:
    """Compute the weighted loss terms of this process.

    Args:
        out: the model's training outputs (see :meth:`hsg.models.model.HSGModel.forward`).
        cfg_train: the ``train`` section of the config.
        gather: concatenation over processes (:func:`hsg.engine.distributed.all_gather_variable` when
            distributed; identity otherwise). Tests pass a simulated multi-process gather.
        pixel_normalizer: divisor of the per-pixel sums; the trainer passes ``global pixels / processes``
            so that the processes' average is the global mean. None = this process's pixel count.
        image_offset: global index of this process's first image.

    Returns:
        dict of weighted terms (only the enabled ones), plus ``accuracy`` (top-5 segment retrieval, not a
        loss). The total loss is the sum of every entry but ``accuracy``.
    """
    t = cfg_train
    seg, hier = out.segments, out.hierarchy
    terms: dict[str, torch.Tensor] = {}
    segment_image = torch.div(seg.view, 2, rounding_mode="floor") + image_offset
    prototypes, offset = gather(seg.prototype)
    images, _ = gather(segment_image)
    own = seg.pixel_segment + offset

    regions, _ = gather(seg.region)
    region_key = _key(images, regions)
    terms["accuracy"] = topk_accuracy(prototypes.detach(), region_key)
    # The pixel-to-segment terms share rows and columns: computed together (hsg.losses.segsort).
    names, label_sets, kappas, weights = [], [], [], []
    if t.img_sim_loss_types == "segsort":
        names.append("img_sim")
        label_sets.append(region_key)
        kappas.append(t.img_sim_concentration)
        weights.append(t.img_sim_loss_weight)
    levels = {} if hier is None else {"fine": hier.fine, "coarse": hier.coarse}
    for name, level in levels.items():
        if getattr(t, f"{name}_hrchy_loss_types") == "segsort":
            groups, _ = gather(level.segment_label)
            names.append(f"{name}_hrchy")
            label_sets.append(_key(images, groups))
            kappas.append(getattr(t, f"{name}_hrchy_concentration"))
            weights.append(getattr(t, f"{name}_hrchy_loss_weight"))
    if names:
        values = segsort_losses(seg.pixel_embedding, own, prototypes, label_sets, kappas, pixel_normalizer)
        terms.update({name: w * v for name, w, v in zip(names, weights, values.unbind())})
    if hier is None:
        return terms

    if t.dmon_loss_types == "dmon":
        nodes = hier.nodes
        groups = nodes.view % 2 if t.dmon_knn_mode == "per_view" else None
        adjacency = knn_graph(nodes.prototype, nodes.padding_mask, groups, t.dmon_knn)
        dmon = collapse = 0.0
        for level in (hier.coarse, hier.fine):
            d, c = dmon_losses(level.prob, adjacency, nodes.padding_mask)
            dmon = dmon + d.mean()
            collapse = collapse + c.mean()
        terms["dmon"] = t.dmon_loss_weight * dmon
        terms["collapse"] = t.dmon_loss_weight * collapse

    if t.centroid_cont_loss_types == "segsort":
        total = 0.0
        for level in (hier.coarse, hier.fine):
            local = level.centroid  # [B, C, K]
            rows = l2_normalize(local.permute(0, 2, 1).reshape(-1, local.shape[1]))
            columns, row_offset = gather(rows)
            own_rows = torch.arange(rows.shape[0], device=rows.device) + row_offset
            labels = torch.arange(columns.shape[0], device=rows.device)
            total = total + segsort_loss(rows, own_rows, columns, labels, t.centroid_cont_concentration)
        terms["centroid_cont"] = t.centroid_cont_loss_weight * total
    return terms


def total_loss(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the loss terms (``accuracy`` is a metric, not a loss)."""
    return sum(v for k, v in terms.items() if k != "accuracy")
