"""The end-to-end demo on generated data (no download): over-segmentation, stage-1 and stage-2 training,
prototypes, inference, mIoU and pictures, beside the same read-out with the untrained network.

    python pyenv/demo.py [--out_dir outputs/demo] [--quick]
"""

from __future__ import annotations

import argparse
import sys

from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out_dir", default="outputs/demo", help="where everything is written")
    parser.add_argument("--quick", action="store_true", help="a reduced demo (seconds, for tests); its "
                        "numbers mean nothing")
    args = parser.parse_args(argv)
    with user_errors("demo"):
        from hsg.demo.pipeline import QUICK, DemoSize, format_summary, run_demo

        summary = run_demo(args.out_dir, QUICK if args.quick else DemoSize())
        print("\n" + format_summary(summary))
        out = summary["outputs"]
        print(f"\n[demo] outputs in {args.out_dir}: checkpoints {out['stage2']}, predictions {out['predictions']}, "
              f"hierarchy figures {out['pictures']}, numbers {args.out_dir}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
