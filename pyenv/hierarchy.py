"""Pictures of the segment hierarchy (over-segmentation, k-means segments, fine and coarse groups) of any

The program is :mod:`hsg.cli.hierarchy` (also installed as a console command); run ``python pyenv/hierarchy.py --help``.
"""

import sys

from hsg.cli.hierarchy import main

if __name__ == "__main__":
    sys.exit(main())
