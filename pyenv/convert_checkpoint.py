"""Convert an HSG checkpoint between the original's parameter names and ours.

The program is :mod:`hsg.cli.convert_checkpoint` (also installed as a console command); run ``python pyenv/convert_checkpoint.py --help``.
"""

import sys

from hsg.cli.convert_checkpoint import main

if __name__ == "__main__":
    sys.exit(main())
