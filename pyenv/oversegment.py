"""Over-segment images for HSG training: edges -> watershed -> ultrametric contour map -> <= 48 regions.

The program is :mod:`hsg.cli.oversegment` (also installed as a console command); run ``python pyenv/oversegment.py --help``.
"""

import sys

from hsg.cli.oversegment import main

if __name__ == "__main__":
    sys.exit(main())
