"""Pictures of the segment hierarchy (over-segmentation, k-means segments, fine and coarse groups) of any
images, with a stage-2 checkpoint.

    python pyenv/hierarchy.py --cfg_path CFG --snapshot_dir RUN --image_dir my_photos --save_dir out
    python pyenv/hierarchy.py ... --data_dir DATA --data_list LIST [--with_oversegmentation]

Writes ``SAVE_DIR/hierarchy/<level>/<name>.png`` (uint16 labels, 0 = padding, groups from 1) and one
composite figure per image in ``SAVE_DIR/hierarchy/figure/``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hsg.errors import ConfigError
from hsg.cli.common import add_inference_flags, base_parser, resolve_config
from hsg.errors import user_errors

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def folder_list(image_dir: Path, out: Path) -> Path:
    """A one-column list of every image under ``image_dir`` (absolute paths)."""
    images = sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {image_dir}")
    out.write_text("".join(f"{p.resolve()}\n" for p in images))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_inference_flags(parser)
    parser.add_argument("--image_dir", default=None, help="a folder of images (instead of --data_list)")
    parser.add_argument("--with_oversegmentation", action="store_true",
                        help="read the list's over-segmentation column and intersect the k-means segments "
                             "with it, as in training")
    args = parser.parse_args(argv)
    with user_errors("hierarchy"):
        cfg = resolve_config(args)
        from hsg.inference.hierarchy import hierarchy_pictures
        from hsg.inference.load import prepare_model

        model, device, _ = prepare_model(cfg, args.snapshot_dir, args.checkpoint, need_hierarchy=True)
        with tempfile.TemporaryDirectory() as tmp:
            if args.image_dir:
                data_list, data_dir = folder_list(Path(args.image_dir), Path(tmp) / "images.txt"), ""
            elif args.data_list:
                data_list, data_dir = args.data_list, cfg.dataset.data_dir
            else:
                raise ConfigError("give --image_dir DIR or --data_list LIST")
            count = hierarchy_pictures(cfg, model, data_dir, data_list, args.save_dir, device,
                                       with_oversegmentation=args.with_oversegmentation)
        print(f"[hierarchy] {count} images -> {args.save_dir}/hierarchy/figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
