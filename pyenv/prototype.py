"""Build the labelled semantic memory: k-means prototypes of a labelled split, tagged with the majority

The program is :mod:`hsg.cli.prototype` (also installed as a console command); run ``python pyenv/prototype.py --help``.
"""

import sys

from hsg.cli.prototype import main

if __name__ == "__main__":
    sys.exit(main())
