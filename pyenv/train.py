"""Train HSG (either stage) on one CPU, one GPU, or many GPUs and nodes.

The program is :mod:`hsg.cli.train` (also installed as a console command); run ``python pyenv/train.py --help``.
"""

import sys

from hsg.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
