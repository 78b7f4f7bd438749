"""Semantic segmentation of a test split by kNN retrieval from the labelled memory.

The program is :mod:`hsg.cli.inference` (also installed as a console command); run ``python pyenv/inference.py --help``.
"""

import sys

from hsg.cli.inference import main

if __name__ == "__main__":
    sys.exit(main())
