"""Write list files (``image semantic_label oversegmentation``) from what is on disk.

The program is :mod:`hsg.cli.make_lists` (also installed as a console command); run ``python pyenv/make_lists.py --help``.
"""

import sys

from hsg.cli.make_lists import main

if __name__ == "__main__":
    sys.exit(main())
