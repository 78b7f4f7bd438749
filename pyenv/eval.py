"""Score a folder of label PNGs against ground truth: per-class IoU, mIoU, pixel accuracy; table + JSON.

The program is :mod:`hsg.cli.eval` (also installed as a console command); run ``python pyenv/eval.py --help``.
"""

import sys

from hsg.cli.eval import main

if __name__ == "__main__":
    sys.exit(main())
