"""How the hierarchy's levels are made, measured: the transformers' normalisation at test time, and levels at
the photo's resolution against the embedding grid's cells.

    # the candidates of test.group_statistics on a labelled list (CamVid val, VOC mini)
    python benchmarks/hierarchy_levels.py groups --checkpoint RUN/model-600.pth --data_dir DATA \\
        --data_list LIST_WITH_OVERSEGMENTATION --out benchmarks/results/hierarchy_groups_camvid.json
    # boundary F of the finest level on BSDS500 val, grid cells against full resolution
    python benchmarks/hierarchy_levels.py boundaries --checkpoint RUN/model-600.pth \\
        --out benchmarks/results/hierarchy_boundaries_bsds500.json

``groups`` scores each candidate (``running``: the statistics learned in training; ``image``: each image's own
sequence; ``batch``: the statistics of the batch being grouped, in batches of ``test.batch_size``, as the
original's training step) per level (fine, coarse): the *oracle* mIoU (every group of an image labelled with
its majority class, then mIoU over the list: how well groups follow classes), the *purity* (share of
labelled pixels whose group's majority class is their own), the *view agreement* (share of grid cells
whose group is the same in the image and its mirror image, which are grouped jointly), and the share of
pixels whose group changes when the images get other batch-mates (the list rotated by half a batch; groups
matched one to one first, so a renumbering is no change; 0 for a batch-independent choice).

``boundaries`` over-segments the BSDS500 val images (the gradient detector, the default 48 regions), draws
the finest level (the k-means segments cut by the regions) as the embedding grid's cells enlarged by
nearest neighbour and at full resolution, and scores each with the project's BSDS benchmark
(:mod:`hsg.evaluation.bsds`: boundary F of one segmentation against the human segmentations, 0.0075
tolerance), beside the over-segmentation itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsg.cli.common import parser_texts  # noqa: E402

STATISTICS = ("running", "image", "batch")


def _group_maps(model, batch: dict, device) -> list[dict[str, np.ndarray]]:
    """Per image: fine and coarse labels at full resolution (the library's path) and the share of grid cells
    whose fine / coarse group agrees between the image and its mirror view (the two are grouped jointly)."""
    from hsg.inference.hierarchy import group_views, hierarchy_of_batch

    cfg = model.cfg
    statistics = cfg.test.group_statistics
    maps = hierarchy_of_batch(cfg, model.network, batch, device)
    images, regions = batch["image"].to(device), batch["oversegmentation"].to(device).long()
    crop_h, crop_w = cfg.test.crop_size
    units = [[i] for i in range(images.shape[0])] if statistics != "batch" else [list(range(images.shape[0]))]
    agree: dict[str, list[float]] = {"fine": [], "coarse": []}
    for idx in units:  # one more grouping pass on the same inputs as the library's, keeping both views
        h = max(max(batch["valid_size"][i][0] for i in idx), crop_h) if len(idx) == 1 else images.shape[-2]
        w = max(max(batch["valid_size"][i][1] for i in idx), crop_w) if len(idx) == 1 else images.shape[-1]
        _, segments, hierarchy = group_views(model.network, images[idx, :, :h, :w], regions[idx, :h, :w],
                                             statistics, cfg.network.output_stride)
        for name, level in (("fine", hierarchy.fine), ("coarse", hierarchy.coarse)):
            grid = segments.pixel_map(level.segment_label[segments.pixel_segment])
            first, mirror = grid[0::2][:len(idx)], grid[1::2][:len(idx)].flip(-1)  # a lone image's copy dropped
            both = (first >= 0) & (mirror >= 0)
            same = ((first == mirror) & both).flatten(1).sum(1).float() / both.flatten(1).sum(1).clamp_min(1)
            agree[name] += same.cpu().tolist()
    return [{"fine": m.fine, "coarse": m.coarse, "fine_agree": agree["fine"][k], "coarse_agree": agree["coarse"][k]}
            for k, m in enumerate(maps)]


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels in another group between two groupings of one image, after matching the groups one to
    one (a mere renumbering of the groups is no change)."""
    from scipy.optimize import linear_sum_assignment

    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), np.int64)
    np.add.at(table, (ia.ravel(), ib.ravel()), 1)
    rows, cols = linear_sum_assignment(-table)
    return 1.0 - table[rows, cols].sum() / a.size


def _majority_map(groups: np.ndarray, label: np.ndarray, ignore: int, num_classes: int) -> np.ndarray:
    """Each group's pixels labelled with the group's majority class (over labelled pixels)."""
    pred = np.full(groups.shape, ignore, np.int64)
    valid = label != ignore
    for g in np.unique(groups[groups >= 0]):
        inside = (groups == g) & valid
        if inside.any():
            pred[groups == g] = np.bincount(label[inside], minlength=num_classes).argmax()
    return pred


def run_groups(args) -> dict:
    import hsg
    from hsg.data.datasets import EvalDataset
    from hsg.data.loader import build_eval_loader
    from hsg.evaluation.confusion import add_confusion, confusion_matrix, semantic_scores

    results = {}
    for statistics in args.statistics:
        model = hsg.load(args.checkpoint, device=args.device,
                         cfg_overrides=[f"test.group_statistics={statistics}", *args.opts])
        cfg = model.cfg
        ignore, classes = cfg.dataset.semantic_ignore_index, cfg.dataset.num_classes
        dataset = EvalDataset(cfg, args.data_dir, args.data_list, with_oversegmentation=True)
        start = time.perf_counter()
        per_order = []
        shift = max(1, cfg.test.batch_size // 2)
        for rotated in (False, True):  # the second pass gives every image other batch-mates
            order = list(range(len(dataset)))
            order = order[shift:] + order[:shift] if rotated else order
            subset = torch.utils.data.Subset(dataset, order)
            out: dict[int, dict] = {}
            position = 0
            for batch in build_eval_loader(cfg, subset, batch_size=cfg.test.batch_size):
                for m in _group_maps(model, batch, model.device):
                    out[order[position]] = m
                    position += 1
            per_order.append(out)
            if statistics != "batch":
                break  # the others group every image alone (tested): one order is enough
        seconds = time.perf_counter() - start
        forward = per_order[0]
        row: dict = {"images": len(dataset), "seconds": seconds}
        for level in ("fine", "coarse"):
            total, pure, labelled = None, 0, 0
            for k in range(len(dataset)):
                label = dataset[k]["semantic_label"].numpy()
                pred = _majority_map(forward[k][level], label, ignore, classes)
                total = add_confusion(total, confusion_matrix(label, pred, classes, ignore))
                pure += int(((pred == label) & (label != ignore)).sum())
                labelled += int((label != ignore).sum())
            row[level] = {"oracle_miou": semantic_scores(total)["miou"], "purity": 100 * pure / max(labelled, 1),
                          "view_agreement": 100 * float(np.mean([forward[k][f"{level}_agree"] for k in forward])),
                          "groups_per_image": float(np.mean([len(np.unique(forward[k][level])) for k in forward]))}
            if len(per_order) == 2:
                changed = [_changed(forward[k][level], per_order[1][k][level]) for k in forward]
                row[level]["changed_by_batch_mates"] = 100 * float(np.mean(changed))
            else:
                row[level]["changed_by_batch_mates"] = 0.0
        results[statistics] = row
        print(f"[groups] {statistics}: " + ", ".join(
            f"{lv} oracle {row[lv]['oracle_miou']:.2f} purity {row[lv]['purity']:.2f} views {row[lv]['view_agreement']:.1f} "
            f"changed {row[lv]['changed_by_batch_mates']:.1f}" for lv in ("fine", "coarse")) + f" ({seconds:.0f} s)")
    print("\n| statistics | fine: oracle mIoU | purity | view agr. % | coarse: oracle mIoU | purity | view agr. % | "
          "changed by other batch-mates % (fine / coarse) |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        f, c = r["fine"], r["coarse"]
        print(f"| {name} | {f['oracle_miou']:.2f} | {f['purity']:.2f} | {f['view_agreement']:.1f} | "
              f"{c['oracle_miou']:.2f} | {c['purity']:.2f} | {c['view_agreement']:.1f} | "
              f"{f['changed_by_batch_mates']:.1f} / {c['changed_by_batch_mates']:.1f} |")
    return results


def run_boundaries(args) -> dict:
    import hsg
    from hsg.api import oversegment, to_rgb
    from hsg.data.datasets import eval_collate, prepare_eval_image
    from hsg.evaluation import bsds
    from hsg.inference.hierarchy import batch_hierarchy

    model = hsg.load(args.checkpoint, device=args.device, cfg_overrides=list(args.opts))
    t, net = model.cfg.test, model.cfg.network
    images = sorted((args.bsds / "images" / "val").glob("*.jpg"))[:args.limit or None]
    counts: dict[str, list] = {"oversegmentation": [], "segments_grid": [], "segments_full": [],
                               "fine_grid": [], "fine_full": []}
    start = time.perf_counter()
    for path in images:
        rgb = to_rgb(path)
        regions = oversegment(rgb, args.max_regions)
        item = prepare_eval_image(rgb, regions, t.image_size, t.max_pixels, tuple(t.crop_size), net.pixel_means,
                                  net.pixel_stds)
        item.update(semantic_label=None, name="", image_path=str(path))
        batch = eval_collate([item])
        gts = bsds.read_ground_truth(args.bsds / "groundTruth" / "val" / f"{path.stem}.mat")
        counts["oversegmentation"].append(bsds.boundary_counts_segs([regions], gts))
        for full in (False, True):
            maps = batch_hierarchy(model.network, batch["image"].to(model.device), batch["valid_size"],
                                   batch["oversegmentation"], train_output_stride=net.output_stride,
                                   statistics=t.group_statistics, out_sizes=batch["orig_size"],
                                   full_regions=batch["oversegmentation_full"], full_resolution=full)[0]
            suffix = "full" if full else "grid"
            counts[f"segments_{suffix}"].append(bsds.boundary_counts_segs([maps.segments], gts))
            counts[f"fine_{suffix}"].append(bsds.boundary_counts_segs([maps.fine], gts))
    seconds = time.perf_counter() - start
    results = {}
    for name, per_image in counts.items():
        scores = bsds.collect_boundaries(per_image)
        results[name] = {"f": scores["ods"]["f"], "recall": scores["ods"]["recall"],
                         "precision": scores["ods"]["precision"]}
    results["images"], results["seconds"] = len(images), seconds
    print(f"\nBSDS500 val, {len(images)} images ({seconds:.0f} s): boundary F of one segmentation per image\n")
    print("| map | boundary F | recall | precision |\n|---|---:|---:|---:|")
    for name in counts:
        r = results[name]
        print(f"| {name} | {r['f']:.3f} | {r['recall']:.3f} | {r['precision']:.3f} |")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("what", choices=("groups", "boundaries"), help="which measurement")
    parser.add_argument("--checkpoint", required=True, help="a stage-2 checkpoint (its config is used)")
    parser.add_argument("--data_dir", default="", help="groups: root of the list's paths")
    parser.add_argument("--data_list", default=None, help="groups: 'image label oversegmentation' list")
    parser.add_argument("--statistics", nargs="+", default=list(STATISTICS), choices=STATISTICS,
                        help="groups: the candidates to score")
    parser.add_argument("--bsds", type=Path, default=ROOT.parent / "shared" / "data" / "BSDS500",
                        help="boundaries: the BSDS500 folder")
    parser.add_argument("--limit", type=int, default=0, help="boundaries: first N val images (0: all 100)")
    parser.add_argument("--max_regions", type=int, default=48, help="boundaries: regions per over-segmentation")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    if args.what == "groups" and not args.data_list:
        parser.error("groups needs --data_list (a list with labels and over-segmentations)")
    torch.manual_seed(0)
    results = run_groups(args) if args.what == "groups" else run_boundaries(args)
    if args.out:
        from hsg.files import write_json

        write_json(args.out, {"command": " ".join(sys.argv), "checkpoint": args.checkpoint, "results": results})
        print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
