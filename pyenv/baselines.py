"""Baselines scored with the same labelled-memory protocol as HSG (see hsg/inference/baselines.py).

    python pyenv/baselines.py --kind raw_pixels --cfg_path CFG --data_dir D --memory_list M --test_list T \
        --save_dir OUT
    python pyenv/baselines.py --kind region_histograms ...   # lists need the over-segmentation column

Writes ``OUT/<readout>/semantic_gray/`` (``knn`` or ``oracle``) for pyenv/eval.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsg.config.config import load_config
from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", required=True, choices=("raw_pixels", "region_histograms"))
    parser.add_argument("--cfg_path", default=None)
    parser.add_argument("--opts", nargs="*", default=[])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--memory_list", required=True)
    parser.add_argument("--test_list", required=True)
    parser.add_argument("--save_dir", required=True)
    parser.add_argument("--readout", default="knn", choices=("knn", "oracle"),
                        help="oracle: each segment's own majority ground truth (the segments' upper bound)")
    args = parser.parse_args(argv)
    with user_errors("baselines"):
        cfg = load_config(args.cfg_path, args.opts)
        from hsg.inference.baselines import RawPixels, region_histogram_readout
        from hsg.engine.distributed import select_device
        from hsg.inference.runner import build_prototypes, predict

        save = Path(args.save_dir)
        if args.kind == "raw_pixels":
            device = select_device(cfg.device)
            model = RawPixels().to(device)
            if args.readout == "knn":
                build_prototypes(cfg, model, args.data_dir, args.memory_list, save / "memory", device)
            count = predict(cfg, model, args.data_dir, args.test_list, save / "memory" / "semantic_prototype",
                            save / args.readout, device, args.readout)
        else:
            count = region_histogram_readout(cfg, args.data_dir, args.memory_list, args.test_list,
                                             save / args.readout, args.readout)
        print(f"[baselines] {args.kind} ({args.readout}): {count} test images -> {save}/{args.readout}/semantic_gray")
    return 0


if __name__ == "__main__":
    sys.exit(main())
