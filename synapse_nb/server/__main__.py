"""``python -m synapse_nb.server`` = ``synapse-nb serve``."""

import sys

from ..cli import main

raise SystemExit(main(["serve", *sys.argv[1:]]))
