"""Seconds per image of the segment hierarchy from Python (``model.hierarchy`` on a list of photos) beside
``pyenv/hierarchy.py`` on a folder of the same photos, in the same run; optionally beside the program of
another checkout (e.g. the code before a change), given by path.

    python benchmarks/hierarchy_speed.py --checkpoint RUN/model-600.pth --image_dir PHOTOS \\
        [--baseline_checkout /tmp/hsg-before] --out benchmarks/results/hierarchy_speed.json

Every row makes the photos' over-segmentations itself (the program into a fresh folder, Python in memory),
so each does the same work: over-segment, embed, segment, group, draw the levels. The programs' rows are
whole processes (start-up and the pictures they write included), timed ``--repeats`` times, fastest kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hsg.cli.common import parser_texts  # noqa: E402


def time_program(python: str, checkout: Path, checkpoint: str, cfg: str, image_dir: Path, workers: int,
                 opts: list[str]) -> float:
    """Wall seconds of ``checkout/pyenv/hierarchy.py`` on the folder, over-segmentations made afresh."""
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, PYTHONPATH=str(checkout))
        start = time.perf_counter()
        done = subprocess.run([python, str(checkout / "pyenv" / "hierarchy.py"), "--cfg_path", cfg, "--checkpoint",
                               checkpoint, "--image_dir", str(image_dir), "--save_dir", out, "--workers", str(workers),
                               *(["--opts", *opts] if opts else [])],
                              env=env, capture_output=True, text=True, cwd=checkout)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{checkout}/pyenv/hierarchy.py failed:\n{done.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--checkpoint", required=True, help="a stage-2 checkpoint of ours")
    parser.add_argument("--image_dir", type=Path, required=True, help="a folder of photos (read recursively)")
    parser.add_argument("--limit", type=int, default=0, help="use the first N photos (0: all)")
    parser.add_argument("--baseline_checkout", type=Path, default=None,
                        help="another checkout whose pyenv/hierarchy.py is timed too (its config: the checkpoint's "
                             "config.yaml beside it, or --cfg_path)")
    parser.add_argument("--cfg_path", default=None, help="config for the programs, relative to each checkout (e.g. "
                                                          "configs/camvid_stage2.yaml; default: config.yaml beside "
                                                          "the checkpoint)")
    parser.add_argument("--workers", type=int, default=1, help="over-segmentation processes of the programs")
    parser.add_argument("--repeats", type=int, default=2, help="timings per row; the fastest is kept")
    parser.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides of this checkout's rows (Python and program), e.g. test.group_statistics=image")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)

    import hsg
    from hsg.data.listing import folder_images

    photos = sorted(folder_images(args.image_dir))[:args.limit or None]
    if not photos:
        parser.error(f"no photos under {args.image_dir}")
    checkpoint = str(Path(args.checkpoint).resolve())  # the programs run inside their checkouts
    cfg = args.cfg_path or str(Path(checkpoint).parent / "config.yaml")  # a relative one: each checkout's own
    with tempfile.TemporaryDirectory() as tmp:  # the folder holds the photos alone, so nothing is reused
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for photo in photos:
            shutil.copy2(photo, folder / photo.name)
        rows: dict[str, float] = {}
        model = hsg.load(args.checkpoint, device="cpu", cfg_overrides=args.opts)
        model.hierarchy(photos[:1])  # warm-up (first calls allocate)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.hierarchy(photos)
            best = min(best, time.perf_counter() - start)
        rows["model.hierarchy(list) in Python"] = best
        checkouts = [("pyenv/hierarchy.py --image_dir (this checkout)", ROOT)]
        if args.baseline_checkout:
            checkouts.append((f"pyenv/hierarchy.py --image_dir ({args.baseline_checkout})", args.baseline_checkout))
        for name, checkout in checkouts:
            opts = args.opts if checkout == ROOT else []
            rows[name] = min(time_program(sys.executable, checkout, checkpoint, cfg, folder, args.workers, opts)
                             for _ in range(args.repeats))
    n = len(photos)
    print(f"\n{n} photos of {args.image_dir}, 1 process, {os.cpu_count()} cores\n")
    print("| what | s/image | images/s |\n|---|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds / n:.3f} | {n / seconds:.2f} |")
    if args.out:
        from hsg.files import write_json

        write_json(args.out, {"command": " ".join(sys.argv), "photos": n,
                              "seconds_per_image": {k: v / n for k, v in rows.items()}})
        print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
