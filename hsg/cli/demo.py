"""The end-to-end demo on generated data (no download): over-segmentation, stage-1 and stage-2 training,
prototypes, inference, mIoU and pictures, beside the same read-out with the untrained network.

    python pyenv/demo.py [--save_dir outputs/demo] [--quick]

The trained model stays in ``SAVE_DIR/stage2``; the script ends with the command that draws its hierarchy
on any folder of images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsg.cli.common import parser_texts
from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--save_dir", "--out_dir", dest="save_dir", default=None,
                        help="where everything is written (default: outputs/demo, or outputs/demo_quick)")
    parser.add_argument("--quick", action="store_true", help="a reduced demo (about a minute, for tests); its "
                        "numbers mean nothing")
    args = parser.parse_args(argv)
    save_dir = args.save_dir or ("outputs/demo_quick" if args.quick else "outputs/demo")
    with user_errors("demo"):
        from hsg.demo.pipeline import QUICK, DemoSize, format_summary, run_demo

        summary = run_demo(save_dir, QUICK if args.quick else DemoSize())
        print("\n" + format_summary(summary))
        out = summary["outputs"]
        print(f"\n[demo] outputs in {save_dir}: predictions {out['predictions']}, learning curve {out['curve']}, "
              f"hierarchy figures {out['pictures']}, numbers {save_dir}/results.json")
        program = "python pyenv/hierarchy.py" if Path("pyenv/hierarchy.py").is_file() else "hsg-hierarchy"
        print(f"[demo] the trained model is {out['stage2']}; draw its hierarchy on a folder of your images with:\n"
              f"  {program} --cfg_path {out['config2']} --checkpoint {out['stage2']} "
              f"--image_dir YOUR_IMAGES --save_dir {save_dir}/my_images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
