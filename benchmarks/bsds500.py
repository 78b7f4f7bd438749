"""Region quality of our over-segmentation hierarchies on BSDS500, next to the shipped gPb-owt-ucm.

    python benchmarks/bsds500.py --split val --out benchmarks/results/bsds500_val.json
    python benchmarks/bsds500.py --split val --limit 20 --methods gpb,gradient   # a quick look
    python benchmarks/bsds500.py --official_example   # our benchmark code vs the official MATLAB numbers

Every method is scored by the same Python benchmark (:mod:`hsg.evaluation.bsds`) in the same run:
boundary F at the optimal dataset scale (ODS) and image scale (OIS), average precision (AP), segmentation
covering and PRI / VOI, over ``--nthresh`` UCM thresholds (99, as the official code). ``s/img`` is the time
to make one UCM (edges + hierarchy) on one core; gPb-owt-ucm is read from its shipped files, so it has
none (the original MATLAB code takes minutes per image).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsg.cli.common import parser_texts  # noqa: E402
from hsg.evaluation import bsds  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "BSDS500"
METHODS = ("gpb", "gradient", "hed")
LABELS = {"gpb": "gPb-owt-ucm (shipped)", "gradient": "ours: gradient", "hed": "ours: HED"}

_DETECTORS: dict = {}


def _detector(name: str):
    if name not in _DETECTORS:
        import cv2
        import torch

        from hsg.oversegmentation.batch import make_detector

        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        _DETECTORS[name] = make_detector(name)
    return _DETECTORS[name]


def score_image(args: tuple[str, Path, str, str, int]) -> tuple[bsds.BoundaryCounts, bsds.RegionCounts, float]:
    """Make (or read) one image's UCM and count its boundary and region matches."""
    method, data, split, image_id, nthresh = args
    from hsg.data.io import read_image
    from hsg.oversegmentation.ucm import ucm_from_edges

    gts = bsds.read_ground_truth(data / "groundTruth" / split / f"{image_id}.mat")
    if method == "gpb":
        ucm2, seconds = bsds.read_ucm2(data / "ucm2" / split / f"{image_id}.mat"), float("nan")
    else:
        image = read_image(data / "images" / split / f"{image_id}.jpg")
        detector = _detector(method)
        start = time.perf_counter()
        ucm2 = ucm_from_edges(detector(image), detector.min_region_fraction)
        seconds = time.perf_counter() - start
    return bsds.boundary_counts_ucm(ucm2, gts, nthresh), bsds.region_counts_ucm(ucm2, gts, nthresh), seconds


def evaluate(method: str, data: Path, split: str, ids: list[str], nthresh: int, workers: int) -> dict:
    start = time.perf_counter()
    jobs = [(method, data, split, i, nthresh) for i in ids]
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:  # fork is unsafe once torch has run
            results = pool.map(score_image, jobs, chunksize=1)
    else:
        results = [score_image(j) for j in jobs]
    bdry = bsds.collect_boundaries([r[0] for r in results])
    reg = bsds.collect_regions([r[1] for r in results])
    seconds = np.array([r[2] for r in results])
    per_image = float(seconds.mean()) if np.isfinite(seconds).all() else None
    return {
        "method": LABELS[method], "images": len(ids), "nthresh": nthresh,
        "ods": bdry["ods"], "ois": bdry["ois"], "ap": bdry["ap"],
        "covering": reg["covering"], "pri": reg["pri"], "voi": reg["voi"],
        "seconds_per_image": per_image, "images_per_second": (1.0 / per_image) if per_image else None,
        "wall_seconds": time.perf_counter() - start,
    }


def table(rows: list[dict]) -> str:
    head = ("| method | ODS | OIS | AP | covering ODS | covering OIS | PRI ODS | VOI ODS | s/img | img/s |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        speed = (f"{r['seconds_per_image']:.3f} | {r['images_per_second']:.2f}" if r["seconds_per_image"]
                 else "n/a | n/a")
        lines.append(f"| {r['method']} | {r['ods']['f']:.3f} | {r['ois']['f']:.3f} | {r['ap']:.3f} | "
                     f"{r['covering']['ods']:.3f} | {r['covering']['ois']:.3f} | {r['pri']['ods']:.3f} | "
                     f"{r['voi']['ods']:.3f} | {speed} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------- the official example
def _expected(path: Path) -> np.ndarray:
    return np.loadtxt(path, ndmin=2)


def official_example(bench: Path) -> list[dict]:
    """Re-run the five-image example of the official benchmark and compare every printed number.

    ``bench`` holds the inputs and the official outputs ``test_1`` .. ``test_5`` (see its README).
    """
    from PIL import Image

    ids = sorted(p.stem for p in (bench / "images").glob("*.jpg"))
    gts = {i: bsds.read_ground_truth(bench / "groundTruth" / f"{i}.mat") for i in ids}
    ucm = {i: bsds.read_ucm2(bench / "ucm2" / f"{i}.mat") for i in ids}
    segs = {i: bsds.read_segs(bench / "segs" / f"{i}.mat") for i in ids}
    png = {i: np.asarray(Image.open(bench / "png" / f"{i}.png"), dtype=np.float64) / 255.0 for i in ids}
    def ucm_bdry(i):
        return bsds.boundary_counts_ucm(ucm[i], gts[i], 5)

    def ucm_reg(i):
        return bsds.region_counts_ucm(ucm[i], gts[i], 5)

    def segs_bdry(i):
        return bsds.boundary_counts_segs(segs[i], gts[i])

    def segs_reg(i):
        return bsds.region_counts_segs(segs[i], gts[i])

    def png_bdry(i):
        return bsds.boundary_counts_pb(png[i], gts[i], 5)

    # The official example script's five runs (see bench/README.md): boundary and/or region benchmarks.
    runs = {"test_1": (ucm_bdry, ucm_reg), "test_2": (png_bdry, None), "test_3": (segs_bdry, None),
            "test_4": (segs_bdry, segs_reg), "test_5": (None, segs_reg)}
    out = []
    for test, (bdry_fn, reg_fn) in runs.items():
        ours: dict[str, np.ndarray] = {}
        if bdry_fn:
            b = bsds.collect_boundaries([bdry_fn(i) for i in ids])
            ours["eval_bdry.txt"] = np.array([[b["ods"]["threshold"], b["ods"]["recall"], b["ods"]["precision"],
                                               b["ods"]["f"], b["ois"]["recall"], b["ois"]["precision"],
                                               b["ois"]["f"], b["ap"]]])
            ours["eval_bdry_thr.txt"] = b["thresholds"]
            ours["eval_bdry_img.txt"] = np.column_stack([np.arange(1, len(ids) + 1), b["images"]])
        if reg_fn:
            r = bsds.collect_regions([reg_fn(i) for i in ids])
            c = r["covering"]
            ours["eval_cover.txt"] = np.array([[c["threshold"], c["ods"], c["ois"], c["best"]]])
            ours["eval_cover_th.txt"] = r["thresholds"][:, :2]
            ours["eval_cover_img.txt"] = np.column_stack([np.arange(1, len(ids) + 1), r["images"]])
            ours["eval_RI_VOI.txt"] = np.array([[r["pri"]["threshold"], r["pri"]["ods"], r["pri"]["ois"],
                                                 r["voi"]["threshold"], r["voi"]["ods"], r["voi"]["ois"]]])
            ours["eval_RI_VOI_thr.txt"] = r["thresholds"][:, [0, 2, 3]]
        for name, mine in ours.items():
            official = _expected(bench / test / name)
            out.append({"test": test, "file": name, "max_abs_diff": float(np.abs(mine - official).max()),
                        "ours": mine.tolist(), "official": official.tolist()})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(**parser_texts(__doc__))
    p.add_argument("--data_dir", type=Path, default=DEFAULT_DATA, help="BSDS500 folder (images, groundTruth, ucm2)")
    p.add_argument("--split", default="val", choices=("train", "val", "test"), help="BSDS500 split to score")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated subset of gpb, gradient, hed (hed is left out when not installed)")
    p.add_argument("--nthresh", type=int, default=99, help="UCM thresholds (99 as the official benchmark)")
    p.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    p.add_argument("--workers", type=int, default=2, help="processes that score images in parallel")
    p.add_argument("--out", type=Path, help="write the results as JSON")
    p.add_argument("--official_example", action="store_true",
                   help="only compare with the official benchmark's own five-image example (DATA_DIR/bench)")
    args = p.parse_args(argv)

    if args.official_example:
        rows = official_example(args.data_dir / "bench")
        print("| run | file | max abs difference to the official output |\n|---|---|---|")
        for r in rows:
            print(f"| {r['test']} | {r['file']} | {r['max_abs_diff']:.2e} |")
        worst = max(r["max_abs_diff"] for r in rows)
        print(f"largest difference: {worst:.2e} over {len(rows)} files")
        results: dict = {"official_example": rows, "largest_difference": worst}
    else:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = set(methods) - set(METHODS)
        if unknown:
            p.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
        if "hed" in methods:
            from hsg.oversegmentation.hed import bundled_weights_path

            try:
                bundled_weights_path()
            except ImportError as e:
                print(f"[bsds500] leaving out HED: {e}", file=sys.stderr)
                methods.remove("hed")
        image_dir = args.data_dir / "images" / args.split
        ids = sorted(f.stem for f in image_dir.glob("*.jpg"))
        if not ids:
            p.error(f"no images in {image_dir}")
        if args.limit:
            ids = ids[:args.limit]
        rows = []
        for method in methods:
            rows.append(evaluate(method, args.data_dir, args.split, ids, args.nthresh, args.workers))
            print(f"[bsds500] {LABELS[method]}: {rows[-1]['wall_seconds']:.0f} s", file=sys.stderr)
        print(f"BSDS500 {args.split}, {len(ids)} images, {args.nthresh} thresholds, {args.workers} workers "
              f"({os.cpu_count()} cores)")
        print(table(rows))
        results = {"split": args.split, "images": len(ids), "nthresh": args.nthresh, "workers": args.workers,
                   "cpu_count": os.cpu_count(), "results": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
