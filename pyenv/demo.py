"""The end-to-end demo on generated data (no download): over-segmentation, stage-1 and stage-2 training,

The program is :mod:`hsg.cli.demo` (also installed as a console command); run ``python pyenv/demo.py --help``.
"""

import sys

from hsg.cli.demo import main

if __name__ == "__main__":
    sys.exit(main())
