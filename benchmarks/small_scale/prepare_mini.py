"""Prepare the small real-image benchmark (bashscripts/mini): lists over the BSDS500 and VOC 2012 images of a
data folder (``--shared``; by default ``../shared/data`` beside the repository).

    python benchmarks/small_scale/prepare_mini.py --shared ../shared/data --save_dir outputs/mini/data [--num_test 100]

Training (no labels) uses the BSDS500 train+val images and the VOC 2012 images of the memory part; the
memory part of VOC (labelled) builds the kNN memory; the test part (held apart, never trained on) is
scored. The output folder links to the read-only data (nothing is copied) and will hold the
over-segmentations, whose paths the lists' third column already names (``oversegmentation/...``).
Writes ``train.txt``, ``memory.txt`` and ``test.txt`` (three columns, relative to the output folder).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hsg.cli.common import parser_texts
from hsg.data.lists import write_list
from hsg.errors import user_errors


def _link(src: Path, dst: Path) -> None:
    if not src.exists():
        raise FileNotFoundError(f"{src} is missing: --shared must hold BSDS500/images/{{train,val}} and "
                                f"VOCdevkit/VOC2012/{{JPEGImages,segcls}} (where to download them: "
                                f"docs/data.md#datasets-where-to-get-them)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        if dst.resolve() == src.resolve():
            return
        raise FileExistsError(f"{dst} exists and is not a link to {src}")
    os.symlink(src.resolve(), dst)


def prepare(shared: Path, out: Path, num_test: int) -> dict[str, int]:
    _link(shared / "BSDS500" / "images", out / "BSDS500" / "images")
    _link(shared / "VOCdevkit" / "VOC2012" / "JPEGImages", out / "VOC2012" / "JPEGImages")
    _link(shared / "VOCdevkit" / "VOC2012" / "segcls", out / "VOC2012" / "segcls")
    voc_ids = sorted(p.stem for p in (out / "VOC2012" / "segcls").glob("*.png"))
    if len(voc_ids) <= num_test:
        raise ValueError(f"only {len(voc_ids)} labelled VOC images, cannot hold {num_test} apart for testing")
    # A fixed, spread-out choice of held-apart images: every k-th id.
    step = len(voc_ids) / num_test
    test_ids = {voc_ids[int(i * step)] for i in range(num_test)}

    def voc_row(i: str) -> tuple[str, str, str]:
        return f"VOC2012/JPEGImages/{i}.jpg", f"VOC2012/segcls/{i}.png", f"oversegmentation/VOC2012/{i}.png"

    memory = [voc_row(i) for i in voc_ids if i not in test_ids]
    test = [voc_row(i) for i in voc_ids if i in test_ids]
    bsds = [(f"BSDS500/images/{p.parent.name}/{p.name}", "-", f"oversegmentation/BSDS500/{p.parent.name}/{p.stem}.png")
            for split in ("train", "val") for p in sorted((out / "BSDS500" / "images" / split).glob("*.jpg"))]
    counts = {"train": write_list(out / "train.txt", bsds + memory), "memory": write_list(out / "memory.txt", memory),
              "test": write_list(out / "test.txt", test)}
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"),
                        help="the data folder holding BSDS500/ and VOCdevkit/ (read only; default: ../shared/data "
                             "beside the repository)")
    parser.add_argument("--save_dir", required=True, help="where the links and lists go")
    parser.add_argument("--num_test", type=int, default=100, help="labelled VOC images held apart for scoring")
    args = parser.parse_args(argv)
    with user_errors("mini_data"):
        counts = prepare(Path(args.shared), Path(args.save_dir), args.num_test)
        print(f"[mini_data] {counts['train']} training images (no labels), {counts['memory']} labelled memory "
              f"images, {counts['test']} held-apart test images -> {args.save_dir}/{{train,memory,test}}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
