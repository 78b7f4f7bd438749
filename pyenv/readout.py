"""Score checkpoints in one command: labelled memory, predictions of the test list, mIoU per read-out;

The program is :mod:`hsg.cli.readout` (also installed as a console command); run ``python pyenv/readout.py --help``.
"""

import sys

from hsg.cli.readout import main

if __name__ == "__main__":
    sys.exit(main())
